//! A minimal HTTP/1.1 JSON client for the chat scenario's setup (register,
//! communities, channels, invites): one keep-alive connection, requests in
//! turn. The bench has no HTTP client crate and needs very little of one.

use std::net::SocketAddr;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One keep-alive connection to a server's REST API.
pub struct Http {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
}

impl Http {
    /// A client for `addr` (connects on first use).
    pub fn new(addr: SocketAddr) -> Http {
        Http { addr, conn: None }
    }

    /// `POST {path}` with a JSON body and an optional bearer token; the
    /// JSON answer of a 2xx, an error naming the status otherwise.
    pub async fn post(&mut self, path: &str, token: Option<&str>, body: &Value) -> Result<Value> {
        // A kept-alive connection the server closed in between fails the
        // first try; one fresh connection is allowed.
        match self.try_post(path, token, body).await {
            Ok(v) => Ok(v),
            Err(_) if self.conn.is_none() => self.try_post(path, token, body).await,
            Err(e) => Err(e),
        }
    }

    async fn try_post(&mut self, path: &str, token: Option<&str>, body: &Value) -> Result<Value> {
        let body = serde_json::to_vec(body)?;
        let mut req = format!(
            "POST /api/v1{path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if let Some(t) = token {
            req.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        req.push_str("\r\n");
        let conn = match &mut self.conn {
            Some(c) => c,
            None => {
                let s = TcpStream::connect(self.addr).await?;
                s.set_nodelay(true)?;
                self.conn.insert(BufReader::new(s))
            }
        };
        let res = exchange(conn, req.as_bytes(), &body).await;
        if res.is_err() {
            self.conn = None;
        }
        let (status, text) = res.with_context(|| format!("POST {path}"))?;
        if !(200..300).contains(&status) {
            bail!("POST {path}: HTTP {status}: {text}");
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("POST {path}: not JSON: {text}"))
    }
}

async fn exchange(
    conn: &mut BufReader<TcpStream>,
    head: &[u8],
    body: &[u8],
) -> Result<(u16, String)> {
    conn.get_mut().write_all(head).await?;
    conn.get_mut().write_all(body).await?;
    let mut line = String::new();
    conn.read_line(&mut line).await?;
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("bad status line {line:?}"))?;
    let (mut length, mut chunked) = (None, false);
    loop {
        line.clear();
        if conn.read_line(&mut line).await? == 0 {
            bail!("connection closed in the headers");
        }
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (name, value) = l.split_once(':').unwrap_or((l, ""));
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = value.parse::<usize>().ok();
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value.eq_ignore_ascii_case("chunked");
        }
    }
    let mut out = Vec::new();
    if chunked {
        loop {
            line.clear();
            conn.read_line(&mut line).await?;
            let size = usize::from_str_radix(line.trim(), 16).context("bad chunk size")?;
            let mut chunk = vec![0; size + 2];
            conn.read_exact(&mut chunk).await?;
            if size == 0 {
                break;
            }
            out.extend_from_slice(&chunk[..size]);
        }
    } else {
        let mut buf = vec![0; length.unwrap_or(0)];
        conn.read_exact(&mut buf).await?;
        out = buf;
    }
    Ok((status, String::from_utf8_lossy(&out).into_owned()))
}

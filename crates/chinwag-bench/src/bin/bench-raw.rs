//! The raw ceiling server: `bench-raw --listen 127.0.0.1:4003`
//! (secret from `BENCH_JWT_SECRET`).

use clap::Parser;

#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:4003")]
    listen: String,
    /// HS256 secret for the JWTs checked at connect.
    #[arg(long, env = "BENCH_JWT_SECRET", default_value = "bench-secret")]
    secret: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = chinwag_bench::listen(&args.listen)?;
    chinwag_bench::raw::run(listener, args.secret).await
}

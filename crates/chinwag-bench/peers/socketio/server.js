// The Socket.IO peer for chinwag-bench, written the idiomatic way:
// JWT checked in a connect middleware, topics as rooms, io.to(room).emit.
//
//   PORT=4001 JWT_SECRET=... node server.js
//   SIO_RECOVERY=1   enable connection-state recovery (resume)
//   REDIS_URL=redis://127.0.0.1:6379   cluster through @socket.io/redis-adapter
"use strict";

const http = require("http");
const { Server } = require("socket.io");
const jwt = require("jsonwebtoken");

const port = Number(process.env.PORT || 4001);
const secret = process.env.JWT_SECRET || "bench-secret";

async function main() {
  const opts = { serveClient: false, transports: ["websocket"] };
  if (process.env.SIO_RECOVERY === "1") {
    opts.connectionStateRecovery = {
      maxDisconnectionDuration: 2 * 60 * 1000,
      skipMiddlewares: false,
    };
  }
  const io = new Server(opts);

  if (process.env.REDIS_URL) {
    const { createClient } = require("redis");
    const { createAdapter } = require("@socket.io/redis-adapter");
    const pubClient = createClient({ url: process.env.REDIS_URL });
    const subClient = pubClient.duplicate();
    await Promise.all([pubClient.connect(), subClient.connect()]);
    io.adapter(createAdapter(pubClient, subClient));
  }

  io.use((socket, next) => {
    try {
      const claims = jwt.verify(socket.handshake.auth.token, secret, {
        algorithms: ["HS256"],
      });
      socket.data.uid = claims.sub;
      next();
    } catch (err) {
      next(new Error("unauthorized"));
    }
  });

  io.on("connection", (socket) => {
    socket.on("subscribe", (topic, ack) => {
      socket.join(String(topic));
      if (typeof ack === "function") ack({ ok: true });
    });
    socket.on("publish", (msg, ack) => {
      io.to(String(msg.topic)).emit("message", {
        topic: msg.topic,
        from: socket.data.uid,
        data: msg.data,
      });
      if (typeof ack === "function") ack({ ok: true });
    });
  });

  const httpServer = http.createServer();
  io.attach(httpServer);
  // The same accept queue as every other server in the bench (Node's
  // default is 511).
  httpServer.listen({ port, host: "127.0.0.1", backlog: 4096 });
  console.error(`socket.io peer listening on ${port}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

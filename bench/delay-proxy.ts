/**
 * A TCP proxy that adds a delay to every chunk in each direction and rewrites nothing. Clients
 * only stay behind it if the broker advertises the proxy's address (the bench starts its own Kafka
 * node that does). Order is kept: Node fires timers of equal duration in the order they were set.
 */
import * as net from "node:net"

export interface DelayProxy {
  readonly port: number
  /** Where new connections go (set before the first client connects). */
  setUpstream(host: string, port: number): void
  /** One-way delay in ms (0: forward at once). */
  setDelay(ms: number): void
  close(): Promise<void>
}

export const start = (listenPort = 0): Promise<DelayProxy> =>
  new Promise((resolve, reject) => {
    let delay = 0
    let upstreamHost = "127.0.0.1"
    let upstreamPort = 0
    const sockets = new Set<net.Socket>()
    const pipe = (from: net.Socket, to: net.Socket) => {
      from.on("data", (chunk) => {
        if (delay === 0) to.write(chunk)
        else setTimeout(() => to.destroyed || to.write(chunk), delay)
      })
      from.on("end", () => (delay === 0 ? to.end() : setTimeout(() => to.end(), delay)))
      from.on("error", () => to.destroy())
      from.on("close", () => to.destroy())
    }
    const server = net.createServer((client) => {
      client.setNoDelay(true)
      const upstream = net.connect({ host: upstreamHost, port: upstreamPort })
      upstream.setNoDelay(true)
      sockets.add(client).add(upstream)
      client.on("close", () => sockets.delete(client))
      upstream.on("close", () => sockets.delete(upstream))
      pipe(client, upstream)
      pipe(upstream, client)
    })
    server.on("error", reject)
    server.listen(listenPort, "127.0.0.1", () => {
      const address = server.address()
      if (address === null || typeof address === "string") return reject(new Error("delay proxy: no TCP address"))
      resolve({
        port: address.port,
        setUpstream: (host, port) => {
          upstreamHost = host
          upstreamPort = port
        },
        setDelay: (ms) => {
          delay = ms
        },
        close: () =>
          new Promise<void>((done) => {
            for (const s of sockets) s.destroy()
            server.close(() => done())
          }),
      })
    })
  })

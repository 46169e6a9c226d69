/**
 * Starting and stopping the status server: {@link startServer} builds the state and the Hono app, serves
 * it with `Deno.serve` (loopback and port 8765 by default; port 0 picks a free one), runs the resource and
 * bus samplers, and returns a handle whose `shutdown()` stops accepting, closes every SSE stream, waits for
 * in-flight requests, stops the pollers and flushes the trace.
 *
 * @module
 */

import { createApp, createHandler, type RouteModule } from "./app.ts";
import { BUILTIN_ROUTES } from "./routes/mod.ts";
import { refreshDurable, sampleBus } from "./routes/bus.ts";
import { sampleResources } from "./routes/system.ts";
import { createServerState, type ServerState, type ServerStateOptions } from "./state.ts";

/** Default port, as the old status server. */
export const DEFAULT_PORT = 8765;
/** Default host: loopback only. */
export const DEFAULT_HOST = "127.0.0.1";

/** Options for {@link startServer}. */
export interface StartServerOptions extends ServerStateOptions {
  /** Interface to bind (default 127.0.0.1). */
  host?: string;
  /** Port (default 8765; 0 picks a free port). */
  port?: number;
  /** Route modules added after the built-in ones (experiments, dev cycle, ...). */
  routes?: RouteModule[];
}

/** A running server. */
export interface ServerHandle {
  /** Base URL, e.g. `http://127.0.0.1:8765`. */
  readonly url: string;
  readonly hostname: string;
  readonly port: number;
  /** The server's state (for embedding and tests). */
  readonly state: ServerState;
  /** Stops gracefully (idempotent). */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  readonly finished: Promise<void>;
}

function urlHost(hostname: string): string {
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}

/** Starts the server. */
export async function startServer(options: StartServerOptions): Promise<ServerHandle> {
  const state = createServerState(options);
  const app = createApp(state, [...BUILTIN_ROUTES, ...(options.routes ?? [])]);
  const { promise: listening, resolve: onListen } = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: options.host ?? DEFAULT_HOST,
    port: options.port ?? DEFAULT_PORT,
    onListen: (addr) => {
      state.browser.bind(addr);
      onListen(addr);
    },
    onError: (err) => {
      console.error(`server error: ${err instanceof Error ? err.message : String(err)}`);
      return new Response(JSON.stringify({ error: "internal server error", status: 500 }), {
        status: 500,
        headers: { "content-type": "application/json; charset=utf-8" },
      });
    },
  }, createHandler(state, app));
  const addr = await listening;

  const timers: ReturnType<typeof setInterval>[] = [];
  const sampling = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    const t = p.catch(() => {}).finally(() => sampling.delete(t));
    sampling.add(t);
  };
  if (state.sampleMs > 0) {
    track(sampleResources(state));
    track(refreshDurable(state).then(() => {}));
    sampleBus(state);
    timers.push(setInterval(() => {
      if (sampling.size < 3) {
        track(sampleResources(state));
        track(refreshDurable(state).then(() => {}));
      }
      sampleBus(state);
    }, state.sampleMs));
  }

  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    stopping ??= (async () => {
      for (const t of timers) clearInterval(t);
      state.shutdown.abort();
      state.sse.closeAll();
      // Graceful: stop accepting, let pending requests finish (SSE streams are closed above).
      await server.shutdown();
      await state.hub.close();
      await Promise.all([...sampling]);
      await state.trace.close();
    })();

  return {
    url: `http://${urlHost(addr.hostname)}:${addr.port}`,
    hostname: addr.hostname,
    port: addr.port,
    state,
    shutdown,
    finished: server.finished,
  };
}

/**
 * Scripted LLM servers for tests, on loopback port 0, speaking the real protocols: Ollama (`GET /api/tags`,
 * `POST /api/chat`) and OpenAI-compatible (`GET /v1/models`, `POST /v1/chat/completions`). The test sets the
 * reply: a function of the request (signature-aware helpers below) or a fixed text, and can make the server
 * fail (HTTP status, delay, garbage body).
 *
 * @module
 */

/** A chat request as received. */
export interface ReceivedChat {
  model: string;
  messages: { role: string; content: string }[];
  body: Record<string, unknown>;
  headers: Headers;
}

/** How the server answers one chat request. */
export type Reply =
  | string
  | { status: number; body?: string }
  | { delayMs: number; then?: Reply }
  | { raw: string };

/** A running scripted server. */
export interface ScriptedServer {
  url: string;
  /** Chat requests received, in order. */
  requests: ReceivedChat[];
  /** Models listed by `/api/tags` or `/v1/models`. */
  models: string[];
  /** Sets the reply function. */
  reply: (fn: (req: ReceivedChat) => Reply) => void;
  close(): Promise<void>;
}

/** The signature a request is for (from the system prompt's first line). */
export function signatureOf(req: ReceivedChat): string {
  const sys = req.messages[0]?.content ?? "";
  if (sys.startsWith("Summarize logs")) return "ContextBuilder";
  if (sys.startsWith("Given a task and context")) return "TaskAgent";
  if (sys.startsWith("Summarize a code snapshot")) {
    return sys.includes("retrieved snippets") ? "CodeContextRAG" : "CodeContext";
  }
  if (sys.startsWith("Identify likely files")) return "FileLocator";
  if (sys.startsWith("Propose a minimal, safe code change")) return "CodeEdit";
  if (sys.startsWith("Review a proposed unified diff")) return "EditCritic";
  if (sys.startsWith("Rewrite the unified diff")) return "ReviseEdit";
  if (sys.startsWith("Assess whether a proposed patch")) return "PatchVerifier";
  if (sys.startsWith("Plan targeted tests")) return "TestPlanner";
  if (sys.startsWith("Choose the best CLI tool")) return "Orchestrator";
  return "unknown";
}

/** True when the request asks for chain of thought (a `reasoning` key). */
export function isChainOfThought(req: ReceivedChat): boolean {
  return (req.messages[0]?.content ?? "").includes(`"reasoning"`);
}

/** Starts a scripted server of the given flavour. */
export function startLlmServer(
  flavour: "ollama" | "openai",
  models: string[] = ["qwen3:1.7b"],
): ScriptedServer {
  const requests: ReceivedChat[] = [];
  let replyFn: (req: ReceivedChat) => Reply = () => "{}";
  const pending = new Map<ReturnType<typeof setTimeout>, () => void>();
  const ac = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen() {} },
    async (req) => {
      const url = new URL(req.url);
      if (flavour === "ollama" && req.method === "GET" && url.pathname === "/api/tags") {
        return Response.json({ models: state.models.map((m) => ({ name: m, model: m, size: 1 })) });
      }
      if (flavour === "openai" && req.method === "GET" && url.pathname === "/v1/models") {
        return Response.json({ object: "list", data: state.models.map((m) => ({ id: m, object: "model" })) });
      }
      const chatPath = flavour === "ollama" ? "/api/chat" : "/v1/chat/completions";
      if (req.method !== "POST" || url.pathname !== chatPath) {
        return new Response("not found", {
          status: 404,
        });
      }
      const body = await req.json();
      const received: ReceivedChat = {
        model: body.model,
        messages: body.messages,
        body,
        headers: req.headers,
      };
      requests.push(received);
      let reply = replyFn(received);
      while (typeof reply === "object" && "delayMs" in reply) {
        const ms = reply.delayMs;
        await new Promise<void>((resolve) => {
          const t = setTimeout(() => {
            pending.delete(t);
            resolve();
          }, ms);
          pending.set(t, resolve);
        });
        reply = reply.then ?? "{}";
      }
      if (typeof reply === "object" && "status" in reply) {
        return new Response(reply.body ?? "server error", {
          status: reply.status,
        });
      }
      if (typeof reply === "object" && "raw" in reply) {
        return new Response(reply.raw, {
          headers: { "content-type": "application/json" },
        });
      }
      const text = reply as string;
      if (flavour === "ollama") {
        return Response.json({
          model: body.model,
          created_at: new Date().toISOString(),
          message: { role: "assistant", content: text },
          done: true,
        });
      }
      return Response.json({
        id: "chatcmpl-test",
        object: "chat.completion",
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
        usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
      });
    },
  );
  const base = `http://127.0.0.1:${server.addr.port}`;
  const state: ScriptedServer = {
    url: flavour === "ollama" ? base : `${base}/v1`,
    requests,
    models,
    reply: (fn) => void (replyFn = fn),
    async close() {
      for (const [t, resolve] of pending) {
        clearTimeout(t);
        resolve();
      }
      pending.clear();
      ac.abort();
      await server.finished;
    },
  };
  return state;
}

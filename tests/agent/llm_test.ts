import assert from "node:assert/strict";
import {
  breakerStatus,
  createLlmClient,
  findLlm,
  forgetProbes,
  LlmError,
  modelMatches,
  normalizeOllamaUrl,
  parseOutputs,
  predict,
  predictWithEscalation,
  probeLlm,
  resetBreakers,
  resolveLlmConfig,
  resolveOllamaUrl,
  signatures,
} from "../../agent/mod.ts";
import { isChainOfThought, signatureOf, startLlmServer } from "./support/llm_servers.ts";

const fast = { timeoutMs: 2000, retries: 1, backoffMs: 10, cooldownMs: 300 };

Deno.test("config: Ollama first, OLLAMA_HOST, --base-url, LOCAL_MODE, OpenAI fallback", () => {
  const env = (vars: Record<string, string>) => (n: string) => vars[n];
  assert.equal(resolveLlmConfig({ model: "m", ollama: true }, env({}))!.baseUrl, "http://localhost:11434");
  assert.equal(
    resolveLlmConfig({ model: "m", ollama: true }, env({ OLLAMA_HOST: "0.0.0.0:9999" }))!.baseUrl,
    "http://127.0.0.1:9999",
  );
  assert.equal(
    resolveLlmConfig({ model: "m", ollama: true, baseUrl: "http://h:1/v1" }, env({}))!.baseUrl,
    "http://h:1",
  );
  assert.equal(resolveLlmConfig({ model: "m", ollama: true }, env({ LOCAL_MODE: "TrUe" })), null);
  const o = resolveLlmConfig(
    { model: "gpt", ollama: false, baseUrl: "http://x:8000" },
    env({ OPENAI_API_KEY: "k" }),
  )!;
  assert.deepEqual([o.provider, o.baseUrl, o.apiKey], ["openai", "http://x:8000/v1", "k"]);
  const withFallback = resolveLlmConfig(
    { model: "qwen3", ollama: true, apiKey: "k" },
    env({ MODEL_NAME: "gpt-4o-mini" }),
  )!;
  assert.equal(withFallback.fallback?.provider, "openai");
  assert.equal(withFallback.fallback?.model, "gpt-4o-mini");
  assert.equal(normalizeOllamaUrl("myhost"), "http://myhost:11434");
  // One resolution for the agent, doctor and the server: explicit, else OLLAMA_HOST, else the default.
  assert.equal(resolveOllamaUrl(undefined, env({})), "http://localhost:11434");
  assert.equal(resolveOllamaUrl(undefined, env({ OLLAMA_HOST: "0.0.0.0:9" })), "http://127.0.0.1:9");
  assert.equal(resolveOllamaUrl(" ", env({ OLLAMA_HOST: "h:2/" })), "http://h:2");
  assert.equal(resolveOllamaUrl("http://x:3/api", env({ OLLAMA_HOST: "h:2" })), "http://x:3");
  assert.ok(modelMatches("qwen3", "qwen3:1.7b"));
  assert.ok(modelMatches("llama3", "llama3:latest"));
  assert.ok(!modelMatches("qwen3:4b", "qwen3:1.7b"));
  assert.ok(!modelMatches("qwen", "qwen3:1.7b"));
});

Deno.test("probe: Ollama lists the model (base-name match), misses it, or is down", async () => {
  const srv = startLlmServer("ollama", ["qwen3:1.7b", "llama3:latest"]);
  try {
    const ok = await probeLlm({ provider: "ollama", model: "qwen3", baseUrl: srv.url });
    assert.equal(ok.ok, true);
    assert.equal(ok.resolvedModel, "qwen3:1.7b");
    const missing = await probeLlm({ provider: "ollama", model: "mistral", baseUrl: srv.url });
    assert.equal(missing.ok, false);
    assert.equal(missing.problem, "model-missing");
    assert.match(missing.message, /ollama pull mistral/);
    assert.match(missing.message, /qwen3:1\.7b/);
  } finally {
    await srv.close();
  }
  const down = await probeLlm(
    { provider: "ollama", model: "qwen3", baseUrl: srv.url.replace(/:\d+$/, ":1") },
    500,
  );
  assert.equal(down.ok, false);
  assert.match(down.message, /not reachable.*ollama serve/);
});

Deno.test("Ollama /api/chat and OpenAI /v1/chat/completions round trips", async () => {
  const ol = startLlmServer("ollama");
  const oa = startLlmServer("openai", ["gpt-4o-mini"]);
  try {
    ol.reply(() => "<think>hmm</think>hello from ollama");
    const a = createLlmClient({ provider: "ollama", model: "qwen3:1.7b", baseUrl: ol.url }, fast);
    const r = await a.complete([{ role: "user", content: "hi" }], { json: true });
    assert.equal(r.text, "hello from ollama");
    assert.equal(ol.requests[0].body.format, "json");
    assert.equal(ol.requests[0].body.stream, false);

    oa.reply(() => "hello from openai");
    const b = createLlmClient({
      provider: "openai",
      model: "gpt-4o-mini",
      baseUrl: oa.url,
      apiKey: "sk-test",
    }, fast);
    assert.equal(
      (await b.complete([{ role: "user", content: "hi" }], { json: true })).text,
      "hello from openai",
    );
    assert.equal(oa.requests[0].headers.get("authorization"), "Bearer sk-test");
    assert.deepEqual(oa.requests[0].body.response_format, { type: "json_object" });
    const probe = await probeLlm({ provider: "openai", model: "gpt-4o-mini", baseUrl: oa.url, apiKey: "k" });
    assert.equal(probe.ok, true);

    oa.reply(() => ({ status: 401, body: '{"error":"bad key"}' }));
    await assert.rejects(
      () => b.complete([{ role: "user", content: "x" }]),
      (e: unknown) => e instanceof LlmError && e.kind === "auth" && /OPENAI_API_KEY/.test(e.message),
    );
  } finally {
    resetBreakers();
    await ol.close();
    await oa.close();
  }
});

Deno.test("timeouts, 500s and garbage: clear errors, retries, breaker opens and recovers", async () => {
  const srv = startLlmServer("ollama");
  resetBreakers();
  try {
    const config = { provider: "ollama" as const, model: "qwen3:1.7b", baseUrl: srv.url };
    const llm = createLlmClient(config, { ...fast, timeoutMs: 150 });
    srv.reply(() => ({ delayMs: 1000, then: "late" }));
    await assert.rejects(
      () => llm.complete([{ role: "user", content: "x" }]),
      (e: unknown) => e instanceof LlmError && e.kind === "timeout" && /within 0.15s/.test(e.message),
    );
    assert.equal(srv.requests.length, 2, "one retry after the timeout");

    srv.reply(() => ({ status: 500, body: "model crashed" }));
    await assert.rejects(() => llm.complete([{ role: "user", content: "x" }]), /HTTP 500: model crashed/);
    srv.reply(() => ({ raw: "<html>not json" }));
    await assert.rejects(
      () => llm.complete([{ role: "user", content: "x" }]),
      (e: unknown) => e instanceof LlmError && e.kind === "garbage" && /circuit breaker open/.test(e.message),
    );
    assert.equal(breakerStatus(config).open, true);
    const before = srv.requests.length;
    await assert.rejects(
      () => llm.complete([{ role: "user", content: "x" }]),
      (e: unknown) => e instanceof LlmError && e.kind === "circuit-open" && /paused/.test(e.message),
    );
    assert.equal(srv.requests.length, before, "no request while open");

    srv.reply(() => ({ raw: '{"message": {"role": "assistant"}}' }));
    await new Promise((r) => setTimeout(r, 350));
    await assert.rejects(() => llm.complete([{ role: "user", content: "x" }]), /replied without a message/);
    assert.equal(srv.requests.length, before + 1, "half-open: one trial, no retries");
    await assert.rejects(() => llm.complete([{ role: "user", content: "x" }]), /paused/);

    await new Promise((r) => setTimeout(r, 350));
    srv.reply(() => "fine again");
    assert.equal((await llm.complete([{ role: "user", content: "x" }])).text, "fine again");
    assert.equal(breakerStatus(config).open, false);
  } finally {
    resetBreakers();
    await srv.close();
  }
});

Deno.test("findLlm: no-LLM mode says what is missing; Ollama → OpenAI fallback", async () => {
  forgetProbes();
  const oa = startLlmServer("openai", ["gpt-4o-mini"]);
  try {
    const vars: Record<string, string> = { OLLAMA_HOST: "127.0.0.1:1" };
    const env = (n: string) => vars[n];
    const none = await findLlm({ model: "qwen3:1.7b", ollama: true }, 500, env);
    assert.equal(none.client, undefined);
    assert.match(none.reason!, /Ollama is not reachable at http:\/\/127\.0\.0\.1:1/);
    assert.match(
      none.label,
      /^disabled \(Ollama not reachable at http:\/\/127\.0\.0\.1:1; 'llm' explains\)$/,
    );
    const noKey = await findLlm({ model: "gpt-4o-mini", ollama: false }, 500, env);
    assert.match(noKey.reason!, /OPENAI_API_KEY is not set/);
    vars.OPENAI_BASE_URL = oa.url;
    vars.OPENAI_API_KEY = "k";
    vars.MODEL_NAME = "gpt-4o-mini";
    const viaFallback = await findLlm(
      { model: "qwen3:1.7b", ollama: true, baseUrl: oa.url, apiKey: "k" },
      500,
      env,
    );
    assert.equal(viaFallback.config?.provider, "openai");
    assert.equal(viaFallback.config?.model, "gpt-4o-mini");
    assert.match(viaFallback.fallbackReason ?? "", /Ollama is not reachable/, "says why Ollama was not used");
    assert.equal(
      (await findLlm({ model: "gpt-4o-mini", ollama: false }, 500, env)).fallbackReason,
      undefined,
    );
    assert.equal(
      await findLlm({ model: "x", ollama: true }, 500, () => "true").then((r) => r.label),
      "off (LOCAL_MODE=true)",
    );
  } finally {
    forgetProbes();
    await oa.close();
  }
});

Deno.test("parseOutputs accepts JSON, fences and field lines, and validates types", () => {
  const sig = signatures.PatchVerifierSig;
  const a = parseOutputs(sig, '{"verdict": "PASS", "risk_level": "low", "reasons": "- small\\n- safe"}');
  assert.deepEqual(a.outputs, {
    verdict: "pass",
    risk_level: "low",
    reasons: ["small", "safe"],
    fix_suggestions: [],
  });
  const b = parseOutputs(sig, 'Sure:\n```json\n{"verdict":"fail","risk_level":"high","reasons":["x"]}\n```');
  assert.equal(b.outputs.verdict, "fail");
  const c = parseOutputs(sig, "verdict: pass\nrisk_level: medium\nreasons:\n1. one\n2. two\n");
  assert.deepEqual(c.outputs.reasons, ["one", "two"]);
  const d = parseOutputs(
    sig,
    '[[ ## verdict ## ]]\npass\n[[ ## risk_level ## ]]\nlow\n[[ ## reasons ## ]]\n["ok"]',
  );
  assert.deepEqual(d.outputs.reasons, ["ok"]);
  assert.throws(
    () => parseOutputs(sig, '{"verdict": "maybe", "risk_level": "low", "reasons": []}'),
    /pass\|fail/,
  );
  assert.throws(() => parseOutputs(sig, '{"risk_level": "low", "reasons": []}'), /missing field 'verdict'/);
  assert.throws(() => parseOutputs(sig, "I think it is fine."), /none of the fields/);
  // List items wrapped in objects (common with small models) become their text, not JSON.
  const plan = parseOutputs(
    signatures.PlanTaskSig,
    '{"plan": [{"step": "open app.py"}, {"description": "run tests"}, {"x": 1, "y": 2}], "commands": [{"cmd": "deno test"}], "assumptions": [], "risks": [3]}',
  );
  assert.deepEqual(plan.outputs.plan, ["open app.py", "run tests", '{"x":1,"y":2}']);
  assert.deepEqual(plan.outputs.commands, ["deno test"]);
  assert.deepEqual(plan.outputs.risks, ["3"]);
  // An optional field with an unusable value is dropped instead of failing the whole answer.
  const loc = parseOutputs(signatures.FileLocatorSig, '{"file_candidates": "[]", "confidence": "high"}');
  assert.equal(loc.outputs.confidence, "");
  assert.throws(() => parseOutputs(sig, '{"verdict": "maybe", "risk_level": "low"}'), /pass\|fail/);
});

Deno.test("predict retries an unusable reply once, then fails clearly; escalation to chain of thought", async () => {
  const srv = startLlmServer("ollama");
  resetBreakers();
  try {
    const llm = createLlmClient({ provider: "ollama", model: "qwen3:1.7b", baseUrl: srv.url }, fast);
    let n = 0;
    srv.reply(() => (n++ === 0 ? "no idea" : '{"verdict":"pass","risk_level":"low","reasons":["fine"]}'));
    const p = await predict(llm, signatures.PatchVerifierSig, { task: "t", context: "c", patch: "p" });
    assert.equal(p.outputs.verdict, "pass");
    assert.match(srv.requests[1].messages.at(-1)!.content, /could not be used/);

    srv.reply(() => "still garbage");
    await assert.rejects(
      () => predict(llm, signatures.PatchVerifierSig, { task: "t", context: "c", patch: "p" }),
      (e: unknown) =>
        e instanceof LlmError && e.kind === "garbage" && /unusable answer for PatchVerifier/.test(e.message),
    );

    srv.requests.length = 0;
    srv.reply((req) => {
      assert.equal(signatureOf(req), "TaskAgent");
      return isChainOfThought(req)
        ? '{"reasoning":"think","plan":["a","b"],"commands":["deno test"]}'
        : '{"plan":["only one"],"commands":[]}';
    });
    const esc = await predictWithEscalation(llm, signatures.PlanTaskSig, { task: "t", context: "c" }, {
      lowSignal: (o) => (o.plan as string[]).length < 2,
    });
    assert.equal(esc.mode, "chain-of-thought");
    assert.equal(esc.reasoning, "think");
    assert.deepEqual(esc.outputs.plan, ["a", "b"]);
    assert.equal(srv.requests.length, 2);
  } finally {
    resetBreakers();
    await srv.close();
  }
});

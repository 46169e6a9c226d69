/**
 * The embedder a quality bench measures, named on its command line: `hash`, `use` (the Universal Sentence
 * Encoder Lite; `use:MODE` for another text mode), `local:DIR` (an ONNX sentence encoder in a folder, as
 * `emb-index --model-path DIR` loads it), `infermesh:URL` (an InferMesh-compatible server) or `bag:PREFIX`
 * (the code encoder `bench/code_encoder/train.py` wrote). `local:` and `infermesh:` are how a model that
 * cannot be downloaded here (a code-trained encoder) would be measured on the tune half, then the test half.
 *
 * @module
 */

import { resolve } from "node:path";
import { createEmbedder, createUseEmbedder, type Embedder, type UseTextMode } from "../embeddings/mod.ts";

/** Spellings {@link embedderFromSpec} accepts, for usage messages. */
export const EMBEDDER_SPECS = "hash, use[:MODE], local:DIR, infermesh:URL or bag:PREFIX";

/** Creates the embedder `spec` names; `docTokens` is the bag encoder's reading length. */
export async function embedderFromSpec(spec: string, docTokens = 256): Promise<Embedder> {
  const colon = spec.indexOf(":");
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const arg = colon < 0 ? "" : spec.slice(colon + 1);
  switch (kind) {
    case "hash":
      return createEmbedder({ backend: "hash" });
    case "use":
      return createUseEmbedder({ textMode: (arg || "digest") as UseTextMode });
    case "local":
      if (arg) return createEmbedder({ backend: "local", modelPath: resolve(arg) });
      break;
    case "infermesh":
      if (arg) return createEmbedder({ backend: "infermesh", url: arg });
      break;
    case "bag":
      if (arg) {
        const { createBagEmbedder } = await import("./code_encoder/bag_embedder.ts");
        return createBagEmbedder(arg, docTokens);
      }
      break;
  }
  throw new Error(`the embedder must be ${EMBEDDER_SPECS}, got '${spec}'`);
}

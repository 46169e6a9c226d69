/**
 * urlPath / urlPathStart: the path of a request URL as sent, without parsing it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { urlPath, urlPathStart } from "../../core/url_path.ts";

Deno.test("urlPath slices the path without the query, as sent", () => {
  assert.equal(urlPath("http://127.0.0.1:8765/api/status?x=1&y=/z"), "/api/status");
  assert.equal(urlPath("http://[::1]:8765/a/%73b/"), "/a/%73b/");
  assert.equal(urlPath("http://localhost:1/"), "/");
  assert.equal(urlPath("http://localhost:1"), "/");
  assert.equal(urlPathStart("http://h:1/x"), "http://h:1".length);
  assert.equal(urlPathStart("http://h:1"), -1);
});

"""Mines (description, code) pairs from code on this machine for the code-encoder experiment
(docs/search.md, "A code-search bi-encoder trained here").

Python: every function and class with a docstring under the given Python roots (its first paragraph, and the
code with the docstring taken out). JavaScript: every JSDoc comment under the given package roots (its first
paragraph before any @tag, and up to 40 lines of the code after it). The evaluation's corpora are excluded
(urllib3, kafkajs), as are tests.

Usage: python3 mine_pairs.py OUT.jsonl [--python DIR]... [--js DIR]...
Defaults: --python /usr/lib/python3.11 /usr/lib/python3/dist-packages, --js node_modules/.deno
"""
import argparse, ast, json, os, re, sys

EXCLUDED = ("urllib3", "kafkajs")
SKIP_DIRS = {"test", "tests", "__tests__", "__pycache__", "idlelib", "lib2to3", "site-packages", "dist-types"}


def walk(root):
    for dp, dns, fns in os.walk(root):
        dns[:] = [d for d in dns if d not in SKIP_DIRS and not d.startswith(EXCLUDED)]
        for fn in fns:
            yield os.path.join(dp, fn)


def python_pairs(root):
    for path in walk(root):
        if not path.endswith(".py"):
            continue
        try:
            src = open(path, encoding="utf-8").read()
            tree = ast.parse(src)
        except Exception:
            continue
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                continue
            doc = ast.get_docstring(node)
            if not doc:
                continue
            summary = doc.strip().split("\n\n")[0]
            if len(summary) < 15:
                continue
            seg = ast.get_source_segment(src, node) or ""
            body = seg.replace(doc, " ") if doc in seg else seg
            yield {"nl": summary[:500], "code": node.name + "\n" + body[:4000]}


JSDOC = re.compile(r"/\*\*(.*?)\*/", re.S)


def js_pairs(root):
    for path in walk(root):
        if not path.endswith((".js", ".ts", ".mjs")) or path.endswith(".d.ts") or ".min." in path:
            continue
        try:
            if os.path.getsize(path) > 1_000_000:
                continue
            src = open(path, encoding="utf-8").read()
        except Exception:
            continue
        for m in JSDOC.finditer(src):
            text = "\n".join(re.sub(r"^\s*\*\s?", "", line) for line in m.group(1).split("\n"))
            summary = text.strip().split("\n\n")[0].split("@")[0].strip()
            if len(summary) < 15 or len(summary) > 600:
                continue
            code = "\n".join(src[m.end():m.end() + 3000].split("\n")[:40])
            following = code.find("/**")
            if following >= 0:
                code = code[:following]
            if len(code.strip()) >= 20:
                yield {"nl": summary, "code": code}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--python", action="append")
    ap.add_argument("--js", action="append")
    a = ap.parse_args()
    roots_py = a.python or ["/usr/lib/python3.11", "/usr/lib/python3/dist-packages"]
    roots_js = a.js or ["node_modules/.deno"]
    n = 0
    with open(a.out, "w") as out:
        for pairs in [python_pairs(r) for r in roots_py] + [js_pairs(r) for r in roots_js]:
            for p in pairs:
                out.write(json.dumps(p) + "\n")
                n += 1
    print(f"{n} pairs", file=sys.stderr)


if __name__ == "__main__":
    main()

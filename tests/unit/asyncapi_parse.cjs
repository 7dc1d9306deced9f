// Parses AsyncAPI documents with the AsyncAPI project's own parser (@asyncapi/parser) and prints, per
// file, its error diagnostics (severity 0) and the number of warnings, as JSON. Run by
// tests/unit/test_asyncapi.py with NODE_PATH pointing at deploy/local/tools.sh's node_modules.
const fs = require("fs");
const { Parser } = require("@asyncapi/parser");

(async () => {
  const parser = new Parser();
  const report = {};
  for (const file of process.argv.slice(2)) {
    const { document, diagnostics } = await parser.parse(fs.readFileSync(file, "utf8"));
    report[file] = {
      parsed: Boolean(document),
      errors: diagnostics.filter((d) => d.severity === 0).map((d) => `${d.code}: ${d.message} at ${(d.path || []).join("/")}`),
      warnings: diagnostics.filter((d) => d.severity === 1).map((d) => `${d.code}: ${d.message} at ${(d.path || []).join("/")}`),
      channels: document ? document.channels().length : 0,
      messages: document ? document.allMessages().length : 0,
    };
  }
  process.stdout.write(JSON.stringify(report, null, 2) + "\n");
})().catch((error) => { console.error(error); process.exit(2); });

// Validates AsyncAPI documents with the official parser (@asyncapi/parser): prints every
// diagnostic as a JSON line, then a summary; exits 1 if any is an error or a document does
// not parse. Usage: node validate.mjs FILE...
import { Parser, fromFile } from '@asyncapi/parser';

const parser = new Parser();
let failed = false;
for (const file of process.argv.slice(2)) {
  const { document, diagnostics } = await fromFile(parser, file).parse();
  for (const d of diagnostics) {
    console.log(JSON.stringify({ file, severity: d.severity, code: d.code, message: d.message, path: d.path.join('/') }));
  }
  const errors = diagnostics.filter((d) => d.severity === 0).length;
  console.log(`${file}: ${errors} errors, ${diagnostics.length - errors} other diagnostics, ${document ? 'parsed' : 'NOT parsed'}`);
  failed ||= errors > 0 || !document;
}
process.exit(failed ? 1 : 0);

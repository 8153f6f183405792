// Run a MicroPython script against the firmware's pure modules, in a real MicroPython
// interpreter (the WebAssembly port). Usage:
//   node run.mjs <firmware/glutefw dir> <vectors.json> <script.py>
// Exit status 0 when the script finishes, 1 when it raises (the traceback is printed).
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";

const [pkgDir, vectorsPath, scriptPath] = process.argv.slice(2);
const mp = await loadMicroPython({
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
mp.FS.mkdir("/lib");
mp.FS.mkdir("/lib/glutefw");
for (const name of readdirSync(pkgDir)) {
  if (name.endsWith(".py")) {
    mp.FS.writeFile(join("/lib/glutefw", name), readFileSync(join(pkgDir, name)));
  }
}
mp.FS.writeFile("/vectors.json", readFileSync(vectorsPath));
try {
  mp.runPython("import sys\nsys.path.insert(0, '/lib')\n" + readFileSync(scriptPath, "utf8"));
} catch (err) {
  process.stderr.write(String(err && err.message ? err.message : err) + "\n");
  process.exit(1);
}

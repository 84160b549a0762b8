// Preloaded (node --import) by test/module/runtime-rules.test.ts before importing one file under
// src/: reports every side effect an import must not have (a child process, a socket, a file
// written, an exit) into the file $SHIPIT_EFFECTS_FILE, so the test sees them even when stdout and
// stderr are quiet (tsx runs the module in a child process: a file reaches across).
import childProcess from "node:child_process";
import fs from "node:fs";
import { syncBuiltinESMExports } from "node:module";
import net from "node:net";

const report = (what) => {
  // tsx's own cache and compiler are not the module's doing
  // (the caller is the third frame: report, the wrapper, then whoever called it)
  const caller = (new Error().stack ?? "").split("\n")[3] ?? "";
  if (/node_modules[\\/](tsx|esbuild)[\\/]/.test(caller)) return;
  if (!process.env.SHIPIT_EFFECTS_FILE) return;
  const fd = fs.openSync(process.env.SHIPIT_EFFECTS_FILE, "a"); // open/write/close are not wrapped
  fs.writeSync(fd, `${what}\n`);
  fs.closeSync(fd);
};
const wrap = (obj, name, label) => {
  const orig = obj[name];
  obj[name] = function (...args) {
    report(`${label}: ${String(args[0]).slice(0, 200)}`);
    return orig.apply(this, args);
  };
};
for (const fn of ["spawn", "spawnSync", "exec", "execFile", "execSync", "execFileSync", "fork"]) wrap(childProcess, fn, `child_process.${fn}`);
wrap(net.Socket.prototype, "connect", "socket connect");
wrap(net.Server.prototype, "listen", "server listen");
for (const fn of ["writeFileSync", "appendFileSync", "mkdirSync", "rmSync", "renameSync", "copyFileSync"]) wrap(fs, fn, `fs.${fn}`);
for (const fn of ["writeFile", "appendFile", "mkdir", "rm", "rename", "copyFile"]) wrap(fs.promises, fn, `fs.promises.${fn}`);
const exit = process.exit;
process.exit = (code) => {
  report(`process.exit(${code})`);
  return exit(code);
};
// named imports (`import { writeFileSync } from "node:fs"`) see the wrapped functions too
syncBuiltinESMExports();

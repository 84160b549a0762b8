/**
 * Progress of the checks on stderr (stdout keeps the table or the JSON): a line when each gate
 * starts and when it ends, with its duration. In a terminal the lines repaint in place; in CI and
 * on a pipe they are plain lines. The test gate shows pytest's own percentage while it runs.
 */
import type { GateEvent } from "../core/checks/pipeline.js";
import { formatMs } from "../core/checks/summary.js";

interface Row {
  gate: string;
  state: "running" | "passed" | "failed" | "skipped";
  started: number;
  text: string;
}

export interface Progress {
  onGate(e: GateEvent): void;
  onOutput(stepId: string, chunk: string): void;
  /** Stop repainting (a terminal keeps the final lines). */
  done(): void;
}

const MARK = { running: "…", passed: "✓", failed: "✗", skipped: "-" } as const;

export function createProgress(out: NodeJS.WriteStream = process.stderr, opts: { tty?: boolean; now?: () => number; heartbeatMs?: number } = {}): Progress {
  const tty = opts.tty ?? (Boolean(out.isTTY) && !process.env.CI);
  const now = opts.now ?? (() => performance.now());
  const rows: Row[] = [];
  let painted = 0;
  let timer: ReturnType<typeof setInterval> | undefined;
  const lastPercent = new Map<string, number>();

  const heartbeat = () => {
    for (const r of rows.filter((x) => x.state === "running")) {
      const pct = lastPercent.get(r.gate);
      out.write(`… ${r.gate.padEnd(12)} running ${formatMs(now() - r.started)}${pct !== undefined ? ` · ${pct}% of tests done` : ""}\n`);
    }
  };
  const line = (r: Row) => `${MARK[r.state]} ${r.gate.padEnd(12)} ${r.text}`.trimEnd();
  const repaint = () => {
    if (painted) out.write(`\x1b[${painted}A`);
    for (const r of rows) {
      if (r.state === "running") r.text = `running ${formatMs(now() - r.started)}${lastPercent.has(r.gate) ? ` · ${lastPercent.get(r.gate)}% of tests` : ""}`;
      out.write(`\x1b[2K${line(r)}\n`);
    }
    painted = rows.length;
  };

  return {
    onGate(e) {
      if (e.phase === "start") {
        const r: Row = { gate: e.gate, state: "running", started: now(), text: "started" };
        rows.push(r);
        if (tty) {
          timer ??= setInterval(repaint, 500);
          timer.unref?.();
          repaint();
        } else {
          out.write(`${line(r)}\n`);
          // on a pipe, a heartbeat: each running gate, its time so far and the test percentage
          timer ??= setInterval(heartbeat, opts.heartbeatMs ?? 30_000);
          timer.unref?.();
        }
        return;
      }
      const r = rows.find((x) => x.gate === e.gate && x.state === "running");
      if (!r) return;
      r.state = e.status;
      r.text = `${e.status === "passed" ? "ok" : e.status} ${formatMs(e.durationMs)}${e.figure ? ` · ${e.figure}` : ""}`;
      if (tty) repaint();
      else out.write(`${line(r)}\n`);
    },
    onOutput(stepId, chunk) {
      if (stepId !== "test") return;
      const all = [...chunk.matchAll(/\[\s*(\d+)%\]/g)];
      if (!all.length) return;
      const pct = Number(all.at(-1)![1]);
      const before = lastPercent.get("test") ?? -1;
      lastPercent.set("test", pct);
      // on a pipe: a line at each quarter, so a long test gate shows it is alive
      if (!tty && pct > 0 && Math.floor(pct / 25) > Math.floor(before / 25) && pct < 100) out.write(`… test         ${pct}% of tests done\n`);
    },
    done() {
      if (timer) clearInterval(timer);
      timer = undefined;
      if (tty) repaint();
    },
  };
}

import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";

/** Clock ticks per second for /proc/<pid>/stat times (USER_HZ; 100 on Linux unless getconf says otherwise). */
const TICKS_PER_SECOND = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** CPU time (user + system) a process has used so far, in milliseconds. */
export function processCpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}

/** Whose CPU counts as a server's: its process, or (cpuPids) several (a gateway and its Redis). */
export interface CpuSource {
  readonly pid?: number | undefined;
  readonly cpuPids?: readonly number[];
}

/** CPU time the source's processes have used so far, in ms; undefined when there is no local process. */
export function sourceCpuMs(source: CpuSource | undefined): number | undefined {
  const pids = source?.cpuPids ?? (source?.pid === undefined ? [] : [source.pid]);
  if (pids.length === 0) return undefined;
  return pids.reduce((sum, pid) => sum + processCpuMs(pid), 0);
}

/** Resident set size of a process in bytes. */
export function processRssBytes(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) * 1024 : 0;
}

/**
 * Local TCP ports of the process's sockets connected to `remotePort` on
 * loopback: matched through socket inodes in /proc/<pid>/fd and /proc/net/tcp{,6}.
 */
export function connectedLocalPorts(pid: number, remotePort: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match?.[1]) inodes.add(match[1]);
    } catch {
      // The fd closed meanwhile.
    }
  }
  const ports: number[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const local = cols[1] as string;
      const remote = cols[2] as string;
      const state = cols[3];
      const inode = cols[9] as string;
      // 01 = ESTABLISHED.
      if (state !== "01" || !inodes.has(inode)) continue;
      if (Number.parseInt(remote.split(":")[1] as string, 16) !== remotePort) continue;
      ports.push(Number.parseInt(local.split(":")[1] as string, 16));
    }
  }
  return ports;
}

/** Pins a process to a CPU list with taskset, when taskset exists; returns whether it did. */
export function pinToCpus(pid: number, cpus: string): boolean {
  try {
    execFileSync("taskset", ["-cp", cpus, String(pid)], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

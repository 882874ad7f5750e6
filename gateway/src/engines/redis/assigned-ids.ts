/**
 * The highest id this process has seen assigned on each subject: ids it was
 * given by XADD and ids its readers delivered.
 *
 * Redis can come back with less than it acknowledged: an OS crash under
 * `appendfsync everysec` loses the last second of the AOF, a FLUSHALL or a
 * restart without persistence loses everything. A stream's ids then start
 * again below ids already given to publishers and subscribers. Before writing
 * again the engine raises each stream's last id to what this process knows
 * (RAISE_LAST_ID_SCRIPT after a reconnect, and the floor of a recreated
 * stream), so those ids are never given out twice; the lost ones read as a
 * gap. Other processes' ids are known only if their messages were read here.
 */
export class AssignedIds {
  private readonly highest = new Map<string, number>();

  /** `maxSubjects` bounds the memory: past it the subjects noted first are forgotten. */
  constructor(private readonly maxSubjects = 100_000) {}

  note(subject: string, id: number): void {
    const known = this.highest.get(subject);
    if (known !== undefined && known >= id) return;
    if (known === undefined && this.highest.size >= this.maxSubjects) {
      const oldest = this.highest.keys().next().value;
      if (oldest !== undefined) this.highest.delete(oldest);
    }
    this.highest.set(subject, id);
  }

  highestOf(subject: string): number {
    return this.highest.get(subject) ?? 0;
  }

  entries(): [subject: string, id: number][] {
    return [...this.highest];
  }
}

/**
 * Raises a stream's last-generated-id to ARGV[1] when it is below (XSETID),
 * so the next XADD continues above every id given out before Redis lost
 * data. A missing stream is left alone: it is recreated above its floor.
 * Returns 1 when it raised. KEYS[1] stream; ARGV[1] highest known id.
 */
export const RAISE_LAST_ID_SCRIPT = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then
    local seq = tonumber(string.match(info[i + 1], '-(%d+)$'))
    if seq < tonumber(ARGV[1]) then
      redis.call('XSETID', KEYS[1], '0-' .. ARGV[1])
      return 1
    end
    return 0
  end
end
return 0
`;

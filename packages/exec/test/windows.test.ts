import { describe, expect, it } from 'vitest';
import { windows } from '../src/os/windows';

/**
 * No PowerShell is installable on our build machines: the Windows scripts are tested as text —
 * structure, the protocol markers, and that every value reaches PowerShell quoted.
 */
const NONCE = '0123456789abcdef0123456789abcdef';
const decode = (b64: string) => Buffer.from(b64, 'base64').toString('utf16le');

describe('windows scripts (text)', () => {
  const hostileDir = "C:\\Users\\it's $(calc)\\work";
  const script = windows.startRunScript({
    runDir: `${hostileDir}\\.fleet\\runs\\j-1`,
    workFolder: hostileDir,
    argv: ['claude.exe', '-p', '--model', 'a "quoted" model', '--resume', "x'y"],
    env: { FAKE: "v'1" },
  });

  it('starts a supervisor with Start-Process -PassThru and announces ITS pid (not the host $PID) first', () => {
    expect(script).toMatch(/\$sup = Start-Process -FilePath 'powershell.exe' .* -PassThru/);
    expect(script).toContain('$P = $sup.Id');
    const pidAt = script.indexOf('FLEET_PID:$P');
    const idAt = script.indexOf('FLEET_ID:');
    expect(pidAt).toBeGreaterThan(0);
    expect(idAt).toBeGreaterThan(pidAt);
    expect(script).not.toMatch(/FLEET_PID:\$PID/);
    // The start only starts: its output is followed with reattach, which carries the nonce'd end.
    expect(script).not.toMatch(/^Fleet-Stream$/m);
    const reattach = windows.reattachScript({ handle: { pid: 7, bootId: '1', startTime: '2', runDir: 'C:\\r' }, offset: 0, nonce: NONCE });
    expect(reattach).toContain(`FLEET_EXIT:$N:$C`);
    expect(reattach).toContain(`$N = '${NONCE}'`);
  });

  it('the supervisor never moves its record over an existing one (a claim), and a claim is an exclusive create', () => {
    const enc = /\$SupB64 = '([A-Za-z0-9+/=]+)'/.exec(script)?.[1] ?? '';
    const sup = decode(enc);
    expect(sup).toMatch(
      /try \{ Move-Item -ErrorAction Stop -LiteralPath \(Join-Path \$d 'pid\.tmp'\) -Destination \(Join-Path \$d 'pid'\) \} catch \{ exit 96 \}/,
    );
    expect(sup).not.toMatch(/Move-Item -Force[^\n]*'pid'\)/);
    const claim = windows.claimRunScript(`${hostileDir}\\.fleet\\runs\\j-1`);
    expect(claim).toContain(`$d = 'C:\\Users\\it''s $(calc)\\work\\.fleet\\runs\\j-1'`);
    expect(claim).toContain(`[IO.File]::Open($p, 'CreateNew', 'Write')`);
    for (const k of ['claimed', 'record', 'pending']) expect(claim).toContain(`FLEET_CLAIM:${k}`);
  });

  it('quotes every value: single-quoted literals with doubled quotes, Windows argv quoting', () => {
    expect(script).toContain(`$W = 'C:\\Users\\it''s $(calc)\\work'`);
    expect(script).toContain('Set-Location -LiteralPath $W');
    expect(script).toContain("'-EncodedCommand',$SupB64");
    const enc = /\$SupB64 = '([A-Za-z0-9+/=]+)'/.exec(script)?.[1] ?? '';
    const sup = decode(enc);
    expect(sup).toContain(`$Exe = 'claude.exe'`);
    expect(sup).toContain(`$ArgLine = '-p --model "a \\"quoted\\" model" --resume x''y'`);
    expect(sup).toContain(`$AgentEnv = @{ 'FAKE' = 'v''1' }`);
    expect(sup).toContain('[Environment]::SetEnvironmentVariable($k, $AgentEnv[$k])');
    expect(sup).toContain('Start-Process -FilePath $Exe -ArgumentList $ArgLine -WorkingDirectory $Wd');
    expect(sup).toMatch(/-RedirectStandardInput \(Join-Path \$d 'prompt'\)/);
    expect(sup).toContain('$null = $a.Handle');
    expect(sup).toMatch(/Move-Item -Force -LiteralPath \(Join-Path \$d 'exit.tmp'\)/);
    expect(sup).toMatch(/Set-Content -LiteralPath \(Join-Path \$d 'pid.tmp'\)/);
  });

  it('nothing assigns the nonce variable but its own line (PowerShell names are case-insensitive)', () => {
    const reattach = windows.reattachScript({ handle: { pid: 7, bootId: '1', startTime: '2', runDir: 'C:\\r' }, offset: 0, nonce: NONCE });
    expect(reattach.match(/\$n\s*=[^=]/gi)).toEqual(['$N = ']);
    expect(script.match(/\$n\s*=[^=]/gi)).toBeNull();
  });

  it('kill checks StartTime before taskkill /F /T and confirms the process is gone', () => {
    const k = windows.killScript(
      { pid: 4321, bootId: '638000000000000000', startTime: '638111111111111111', runDir: 'C:\\w\\.fleet\\runs\\r' },
      { timeoutMs: 3000 },
    );
    const check = k.indexOf("$ST -eq 'mismatch'");
    const kill = k.indexOf('taskkill.exe /F /T /PID $P');
    expect(check).toBeGreaterThan(0);
    expect(kill).toBeGreaterThan(check);
    expect(k).toContain('FLEET_KILL:identity_mismatch:0');
    expect(k).toMatch(/while \(\(Fleet-Alive \$P \$S\)/);
  });

  it('the prepare step writes the prompt it carries (base64, no quote to escape) into the run directory, whole', () => {
    const prompt = Buffer.from(`it's "quoted" $(calc)\r\n✓`);
    const p = windows.prepareRunDirScript(hostileDir, `${hostileDir}\\.fleet\\runs\\j-1`, prompt);
    expect(p).toContain(`$Prompt = '${prompt.toString('base64')}'`);
    expect(p).toContain(`$W = 'C:\\Users\\it''s $(calc)\\work'`);
    expect(p).toContain('[IO.File]::WriteAllBytes($tmp, [Convert]::FromBase64String($Prompt))');
    expect(p.indexOf('FLEET_ERR:rundir_used')).toBeLessThan(p.indexOf('WriteAllBytes'));
    expect(p).toMatch(/Move-Item -Force -LiteralPath \$tmp -Destination \(Join-Path \$D 'prompt'\)/);
  });

  it('refuses NUL, non-numeric identities and run ids outside the runs folder', () => {
    expect(() => windows.startRunScript({ runDir: 'C:\\a', workFolder: 'C:\\a\0b', argv: ['x'] })).toThrow(/NUL/);
    expect(() => windows.killScript({ pid: 1, bootId: 'b', startTime: '1; calc', runDir: 'C:\\r' }, { timeoutMs: 1 })).toThrow();
    expect(windows.runDir('C:\\w\\', 'job-1')).toBe('C:\\w\\.fleet\\runs\\job-1');
    expect(() => windows.runDir('C:\\w', '..\\x')).toThrow();
  });
});

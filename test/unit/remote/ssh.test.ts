import { describe, expect, it } from 'vitest';
import { fingerprintOf, parsePublicKeyLine, shellQuote } from '../../../lab/remote/ssh';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFbYYU37vlU/Cdzk0pJG75mOzenQZHRa31Asf5kKc026';
// What `ssh-keygen -lf` prints for KEY.
const KEY_FP = 'SHA256:se5JwACAxCBi7zdQbv32pnSeQMEgGJBdsi5UsGtJrLE';

describe('shellQuote', () => {
  it('leaves plain words alone and single-quotes the rest', () => {
    expect(shellQuote(['ip', '-n', 'mplab-x', 'link', 'set', 'eth0', 'mtu', '1450'])).toBe(
      'ip -n mplab-x link set eth0 mtu 1450',
    );
    expect(shellQuote(['echo', 'a b', '', "it's", '$HOME', '*'])).toBe(
      `echo 'a b' '' 'it'\\''s' '$HOME' '*'`,
    );
  });
});

describe('host key lines', () => {
  it('parses a key line with or without comment and a known_hosts line', () => {
    const k = parsePublicKeyLine(`${KEY} root@h1`);
    expect(k?.type).toBe('ssh-ed25519');
    expect(parsePublicKeyLine(`192.0.2.11 ${KEY}`)?.blob.equals(k?.blob as Buffer)).toBe(true);
    expect(parsePublicKeyLine(`  ${KEY}\n`)?.type).toBe('ssh-ed25519');
  });

  it('rejects garbage and a type that disagrees with the blob', () => {
    expect(parsePublicKeyLine('')).toBeUndefined();
    expect(parsePublicKeyLine('ssh-ed25519')).toBeUndefined();
    expect(parsePublicKeyLine(KEY.replace('ssh-ed25519', 'ssh-rsa'))).toBeUndefined();
  });

  it('fingerprints like OpenSSH', () => {
    expect(fingerprintOf(parsePublicKeyLine(KEY)?.blob as Buffer)).toBe(KEY_FP);
  });
});

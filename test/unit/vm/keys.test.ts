import ssh2 from 'ssh2';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, wellFormed } from '../../../lab/vm/keys';

describe('VM lab keys', () => {
  it('every generated key pair parses, public halves 32 bytes (ssh2 alone fails ~1 in 140)', () => {
    for (let i = 0; i < 1500; i++) {
      const k = generateKeyPair(`mplab-lab-t${i}`);
      expect(ssh2.utils.parseKey(k.private)).not.toBeInstanceOf(Error);
      expect(wellFormed(k.private, k.public)).toBe(true);
      expect(k.public).toMatch(/^ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI\S{43} mplab-lab-t\d+$/);
    }
  });
  it('refuses a key whose public half was trimmed to 31 bytes', () => {
    // the shape ssh2's generator produces when the public key starts with a zero byte
    let bad: { private: string; public: string } | undefined;
    for (let i = 0; i < 5000 && !bad; i++) {
      const k = ssh2.utils.generateKeyPairSync('ed25519');
      if (ssh2.utils.parseKey(k.private) instanceof Error) bad = k;
    }
    expect(bad, 'ssh2 produced a malformed key within 5000 draws').toBeDefined();
    expect(wellFormed(bad!.private, bad!.public)).toBe(false);
  });
});

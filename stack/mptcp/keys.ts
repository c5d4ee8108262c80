/**
 * Keys and tokens with collision avoidance (RFC 8684 §3.1: a host must not pick a key whose token
 * is already used by one of its connections). The host keeps one `TokenTable`.
 */
import { generateKey, tokenAndIdsn } from '../wire/crypto';

export interface LocalKey {
  key: bigint;
  token: number;
  idsn: bigint;
}

export class TokenTable<T> {
  private readonly map = new Map<number, T>();
  /** How many generated keys were thrown away because their token was taken. */
  collisions = 0;

  constructor(private readonly keygen: () => bigint = generateKey) {}

  /** A fresh key whose token is not in use; the token is reserved for `owner`. */
  allocate(owner: T): LocalKey {
    for (let i = 0; ; i++) {
      const key = this.keygen();
      const { token, idsn } = tokenAndIdsn(key);
      if (!this.map.has(token)) {
        this.map.set(token, owner);
        return { key, token, idsn };
      }
      this.collisions++;
      if (i > 1000) throw new Error('token space exhausted');
    }
  }

  /** Reserve a token chosen elsewhere (e.g. a key picked before the owner existed). */
  claim(token: number, owner: T): boolean {
    if (this.map.has(token)) return false;
    this.map.set(token, owner);
    return true;
  }

  get(token: number): T | undefined {
    return this.map.get(token);
  }

  has(token: number): boolean {
    return this.map.has(token);
  }

  release(token: number): void {
    this.map.delete(token);
  }

  get size(): number {
    return this.map.size;
  }
}

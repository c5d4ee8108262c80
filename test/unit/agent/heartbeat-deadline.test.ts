import { describe, expect, it } from 'vitest';
import { HEARTBEAT_DEADLINE_MS, heartbeatDeadlineMs } from '../../../lab/agents.js';

describe('heartbeat deadline (MPLAB_AGENT_DEADLINE_MS)', () => {
  it('defaults to 1.5 s when the variable is unset or empty', () => {
    expect(heartbeatDeadlineMs({})).toBe(HEARTBEAT_DEADLINE_MS);
    expect(heartbeatDeadlineMs({ MPLAB_AGENT_DEADLINE_MS: '' })).toBe(1500);
  });
  it('takes the value the live image sets for a one-vCPU guest', () => {
    expect(heartbeatDeadlineMs({ MPLAB_AGENT_DEADLINE_MS: '20000' })).toBe(20_000);
  });
  it('refuses a value that is not a positive integer, naming it', () => {
    for (const bad of ['0', '-5', '1.5s', 'abc', '20 000'])
      expect(() => heartbeatDeadlineMs({ MPLAB_AGENT_DEADLINE_MS: bad })).toThrow(
        new RegExp(`MPLAB_AGENT_DEADLINE_MS.*'${bad}'`),
      );
  });
});

/**
 * Where things are in a guest booted from the live image: the image's contract with the VM backend
 * (lab/backends/vm), the boot configuration's script (node-config.ts) and the agent relay.
 */

/** The image's own agent bundle (dist/agent.js as the image was built with it). */
export const IMAGE_AGENT = '/opt/mplab/dist/agent.js';
/** The npm packages the bundles leave external (koffi, ssh2). */
export const IMAGE_NODE_MODULES = '/opt/mplab/node_modules';

/** The guest agent's files (the guest's /run is a tmpfs). */
export const GUEST_DIR = '/run/mplab';
export const GUEST_AGENT_SOCKET = `${GUEST_DIR}/agent.sock`;
/** The agent's stdout and stderr: what a failed start shows. */
export const GUEST_AGENT_OUT = `${GUEST_DIR}/agent.out`;
/** Where /init records the pid of the agent it started at boot (the VM backend adopts that agent). */
export const BOOT_AGENT_PID = `${GUEST_DIR}/boot-agent.pid`;
/** The guest agent's control port on the guest's loopback (agent.js --control-tcp). */
export const GUEST_CONTROL_PORT = 8686;

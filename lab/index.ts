/**
 * mplab's scripting API (the `mplab` package's main export, dist/lib.js). zx scripts do:
 *
 *   import { Lab } from 'mplab';
 *   const lab = await Lab.up('topologies/two-host.yaml');
 *   await lab.sysctl('all', ['net.mptcp.mptcp_ndiffports=2']);
 *   for (const r of await lab.report()) console.log(formatReport(r.node, r.report));
 *   await lab.down();
 */
export { agentScript } from './agents';
export { NetnsBackend } from './backends/netns';
export type { Backend, LinkEnd as BackendLinkEnd, WireSpec } from './backends/types';
export type { CaptureHandle, CaptureOptions, CaptureResult } from './capture';
export { MplabError, RuntimeFailure, UsageError, exitCodeOf } from './errors';
export type {
  DownResult,
  IfaceCounters,
  LabStatus,
  LinkChangeRequest,
  LinkStatus,
  NodeReport,
  NodeStatus,
  SysctlRow,
  UpOptions,
  UpProgress,
  UpStep,
} from './lab';
export { Lab } from './lab';
export { netemAvailable, planLink, tcLines } from './links/shaping';
/** The one unit grammar (topology files, events, `mplab link`, CLI options); *Arg throw UsageError. */
export {
  percentArg,
  rateArg,
  sizeArg,
  timeArg,
  /** @deprecated the old names of rateArg / timeArg / percentArg */
  rateArg as parseRate,
  timeArg as parseDuration,
  percentArg as parsePercent,
} from './topology/units';
export { formatReport, mappingRows } from './report';
export type { LabState } from './state';
export { labDir, listLabs, readState, runDir } from './state';
export type * from './topology/model';
export { TopologyError } from './topology/model';
export { loadTopology } from './topology/index';
// traffic runs, scenarios, the demo, campaigns, plots, the simulator (issue 8)
export type { CampaignOutcome, CampaignProgress, CampaignSpec, RunRecord } from './campaign/runner';
export { runCampaign } from './campaign/runner';
export type { LoadedCampaign } from './campaign/spec';
export { loadCampaign } from './campaign/spec';
export { svgToPng } from './plot/png';
export { timelineSvg } from './plot/svg';
export { sparkline } from './plot/term';
export type { CampaignFileOptions } from './run/campaign';
export { runCampaignFile } from './run/campaign';
export type { DemoOptions, DemoOutput } from './run/demo';
export { runDemo } from './run/demo';
export { runTraffic } from './run/index';
export { writePlot } from './run/plot';
export type { RunEvent, RunResult, RunStack, RunSubflow, TimelinePoint } from './run/result';
export type { RunSpec } from './run/spec';
export type { LiveSubflow } from './run/timeline';
export { pathMbpsBetween } from './run/timeline';
export type { LabRunOptions, LabRunOutput } from './run/ts';
export { loadEvents } from './scenario/load';
export type { SimRunOptions, SimRunOutput } from './sim/run';
export { simulateRun } from './sim/run';

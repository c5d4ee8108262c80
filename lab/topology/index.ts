// Public API of the topology module: load a topology file into a validated, fully planned LabModel.
export type * from './model';
export { TopologyError } from './model';
export { loadTopology, parseTopology } from './load';
export { routeLine, routingBatches, ruleLine } from './iproute';

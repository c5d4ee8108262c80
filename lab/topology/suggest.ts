// "Did you mean …?" for unknown keys, names and values: the stack's implementation (stack/suggest).
export { closest, didYouMean, editDistance } from '../../stack/suggest';

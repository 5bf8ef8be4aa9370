/**
 * The autograd tape. Ops call {@link record} after computing their output; {@link backward} walks the
 * recorded graph from the loss in reverse topological order, calls each node's backward rule, accumulates
 * gradients into leaf tensors' `.grad` (parameters) and disposes intermediate gradients and saved
 * activations as soon as they are consumed.
 * @module
 */
import { addInPlace, copy, fill } from "../ops/elementwise.ts";
import type { TapeNode, Tensor } from "./tensor.ts";

let _gradEnabled = true;

/** True when ops record onto the tape (not inside {@link noGrad}). */
export function isGradEnabled(): boolean {
  return _gradEnabled;
}

/** Runs `fn` without recording (inference, optimizer updates). Works with async functions too. */
export function noGrad<T>(fn: () => T): T {
  const prev = _gradEnabled;
  _gradEnabled = false;
  let result: T;
  try {
    result = fn();
  } catch (e) {
    _gradEnabled = prev;
    throw e;
  }
  if (result instanceof Promise) {
    return result.finally(() => _gradEnabled = prev) as T;
  }
  _gradEnabled = prev;
  return result;
}

/** True when gradients must flow through an op reading these inputs. */
export function needsGrad(inputs: Tensor[]): boolean {
  return _gradEnabled && inputs.some((t) => t.requiresGrad);
}

/**
 * Records `output = op(inputs)` with its backward rule when any input requires a gradient; otherwise
 * disposes `saved` at once. Returns `output`.
 */
export function record(
  output: Tensor,
  op: string,
  inputs: Tensor[],
  backward: TapeNode["backward"],
  saved: Tensor[] = [],
): Tensor {
  if (!needsGrad(inputs)) {
    for (const s of saved) s.dispose();
    return output;
  }
  output.requiresGrad = true;
  output.node = { op, inputs, backward, saved };
  return output;
}

function _topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  const stack: [Tensor, boolean][] = [[root, false]];
  while (stack.length) {
    const [t, expanded] = stack.pop()!;
    if (expanded) {
      order.push(t);
      continue;
    }
    if (seen.has(t)) continue;
    seen.add(t);
    stack.push([t, true]);
    for (const inp of t.node?.inputs ?? []) if (inp.node && !seen.has(inp)) stack.push([inp, false]);
  }
  return order;
}

/** Options of {@link backward}. */
export interface BackwardOptions {
  /**
   * Called once per leaf with requiresGrad as soon as this pass has added its last contribution to the
   * leaf's `.grad` (the leaf's gradient is final from then on; data parallel starts all-reducing it while
   * the rest of the backward pass is still being computed). Called in a deterministic order.
   */
  onGradReady?: (leaf: Tensor) => void;
}

/**
 * Back-propagates from `loss` (a scalar unless `gradOutput` is given). Leaf tensors with requiresGrad get
 * their gradient added to `.grad` (created persistent on first use). The graph is released afterwards:
 * nodes are cleared and their saved tensors disposed.
 */
export function backward(loss: Tensor, gradOutput?: Tensor, opts: BackwardOptions = {}): void {
  if (!loss.node) {
    throw new Error(`backward(): ${loss} was not produced by recorded ops that need a gradient`);
  }
  if (!gradOutput && loss.size !== 1) {
    throw new RangeError(`backward(): ${loss} is not a scalar; pass gradOutput`);
  }
  const grads = new Map<Tensor, Tensor>();
  const seed = gradOutput ?? fill([...loss.shape], 1);
  grads.set(loss, seed);
  const order = _topoOrder(loss);
  const pending = opts.onGradReady ? _leafUses(order) : null;
  for (let i = order.length - 1; i >= 0; i--) {
    const t = order[i];
    const node = t.node!;
    const g = grads.get(t);
    grads.delete(t);
    if (g) {
      const gin = node.backward(g);
      const returned = new Set<Tensor>();
      node.inputs.forEach((inp, k) => {
        let gi = gin[k];
        if (!gi) return;
        // A rule may pass its incoming gradient through, or give one tensor to two inputs: copy so that
        // every stored gradient is owned exactly once.
        if (gi === g || returned.has(gi)) gi = copy(gi);
        returned.add(gi);
        if (!inp.requiresGrad) {
          gi.dispose();
          return;
        }
        if (gi.size !== inp.size) {
          throw new Error(`backward of ${node.op}: gradient ${gi} does not match input ${inp}`);
        }
        if (inp.node) {
          const prev = grads.get(inp);
          if (prev) {
            addInPlace(prev, gi);
            gi.dispose();
          } else grads.set(inp, gi);
        } else _accumulateLeaf(inp, gi);
      });
      if (g !== seed || !gradOutput) g.dispose();
    }
    for (const s of node.saved) s.dispose();
    if (pending) {
      for (const inp of node.inputs) {
        const left = pending.get(inp);
        if (left === undefined) continue;
        if (left === 1) {
          pending.delete(inp);
          opts.onGradReady!(inp);
        } else pending.set(inp, left - 1);
      }
    }
    t.node = null;
  }
}

/** How many times each leaf that needs a gradient is read by the nodes of the graph. */
function _leafUses(order: Tensor[]): Map<Tensor, number> {
  const uses = new Map<Tensor, number>();
  for (const t of order) {
    for (const inp of t.node!.inputs) {
      if (!inp.node && inp.requiresGrad) uses.set(inp, (uses.get(inp) ?? 0) + 1);
    }
  }
  return uses;
}

function _accumulateLeaf(leaf: Tensor, g: Tensor): void {
  if (leaf.grad) {
    addInPlace(leaf.grad, g);
    g.dispose();
  } else {
    leaf.grad = g;
    g.persistent = true;
    g.name = `${leaf.name}.grad`;
  }
}

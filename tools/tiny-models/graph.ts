/**
 * A very small ONNX graph builder on top of the `onnx-proto` message classes.
 *
 * It only knows what the tiny models need: float32/int64 tensors, named graph inputs/outputs with
 * symbolic dimensions, and nodes with int/float/ints attributes. Node and value names come from a
 * counter, so building the same graph twice gives the same bytes.
 *
 * Target: opset 18, IR version 8 (both checked to load in onnxruntime-node 1.30).
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import { Rng } from './rng.ts';

// onnx-proto is CommonJS; its namespace is the `onnx` property of the default export.
const { onnx } = onnxProto;

export const OPSET = 18;
export const IR_VERSION = 8;

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT64 = onnx.TensorProto.DataType.INT64;
export const BOOL = onnx.TensorProto.DataType.BOOL;
export type ElemType = typeof FLOAT | typeof INT64 | typeof BOOL;

/** A dimension is either fixed (number) or symbolic (name, e.g. "batch_size"). */
export type Dim = number | string;

/** Attribute values, tagged because ONNX distinguishes ints from floats. */
export type Attr =
  | { kind: 'int'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'ints'; value: number[] };

export const int = (value: number): Attr => ({ kind: 'int', value });
export const float = (value: number): Attr => ({ kind: 'float', value });
export const ints = (value: number[]): Attr => ({ kind: 'ints', value });

/** Serialises float32 values little-endian regardless of the host, so bytes are portable. */
function float32Bytes(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setFloat32(i * 4, data[i] ?? 0, true);
  return out;
}

function int64Bytes(data: number[]): Uint8Array {
  const out = new Uint8Array(data.length * 8);
  const view = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) view.setBigInt64(i * 8, BigInt(data[i] ?? 0), true);
  return out;
}

function valueInfo(name: string, elemType: ElemType, dims: Dim[] | null): OnnxTypes.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        // `null` means "shape unknown": used where the exact symbolic shape is not worth declaring.
        shape: dims === null ? null : { dim: dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

export class GraphBuilder {
  private readonly nodes: OnnxTypes.INodeProto[] = [];
  private readonly initializers: OnnxTypes.ITensorProto[] = [];
  private readonly inputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly outputs: OnnxTypes.IValueInfoProto[] = [];
  private readonly constCache = new Map<string, string>();
  private counter = 0;
  /** Number of float parameters, reported by the CLI. */
  paramCount = 0;

  /** @param seed model seed; every weight tensor derives its own stream from it and its name. */
  constructor(private readonly seed: number) {}

  input(name: string, elemType: ElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Declares `value` as a graph output named `name` (an Identity node renames it). */
  output(value: string, name: string, elemType: ElemType, dims: Dim[] | null): string {
    this.nodes.push({ opType: 'Identity', input: [value], output: [name], name: `Identity_${name}` });
    this.outputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** A float32 initializer with explicit data. */
  tensor(name: string, dims: number[], data: Float32Array): string {
    const size = dims.reduce((a, b) => a * b, 1);
    if (size !== data.length) throw new Error(`tensor ${name}: ${data.length} values for dims [${dims}]`);
    this.initializers.push({ name, dims, dataType: FLOAT, rawData: float32Bytes(data) });
    this.paramCount += size;
    return name;
  }

  /** A random float32 weight, uniform with the given standard deviation. */
  weight(name: string, dims: number[], std: number): string {
    const size = dims.reduce((a, b) => a * b, 1);
    return this.tensor(name, dims, Rng.forTensor(this.seed, name).uniformArray(size, std));
  }

  /** A float32 tensor filled with one value (LayerNorm gains, biases). */
  filled(name: string, dims: number[], value: number): string {
    const size = dims.reduce((a, b) => a * b, 1);
    return this.tensor(name, dims, new Float32Array(size).fill(value));
  }

  /** An int64 constant (shapes, axes, indices); `dims` [] gives a scalar. Deduplicated. */
  i64(values: number[], dims: number[] = [values.length]): string {
    const key = `i64:${dims.join('x')}:${values.join(',')}`;
    const cached = this.constCache.get(key);
    if (cached) return cached;
    const name = `const_i64_${this.constCache.size}`;
    this.initializers.push({ name, dims, dataType: INT64, rawData: int64Bytes(values) });
    this.constCache.set(key, name);
    return name;
  }

  /** A float32 scalar constant. Deduplicated. */
  f32(value: number): string {
    const key = `f32:${value}`;
    const cached = this.constCache.get(key);
    if (cached) return cached;
    const name = `const_f32_${this.constCache.size}`;
    this.initializers.push({ name, dims: [], dataType: FLOAT, rawData: float32Bytes(Float32Array.of(value)) });
    this.constCache.set(key, name);
    return name;
  }

  /** Adds one node and returns the name of its (single) output. */
  op(opType: string, inputs: string[], attrs: Record<string, Attr> = {}): string {
    const id = this.counter++;
    const out = `${opType.toLowerCase()}_${id}`;
    const attribute: OnnxTypes.IAttributeProto[] = Object.entries(attrs).map(([name, a]) => {
      switch (a.kind) {
        case 'int':
          return { name, type: onnx.AttributeProto.AttributeType.INT, i: a.value };
        case 'float':
          return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: a.value };
        case 'ints':
          return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: a.value };
      }
    });
    this.nodes.push({ opType, input: inputs, output: [out], name: `${opType}_${id}`, attribute });
    return out;
  }

  // ---- Small helpers used by every architecture ----

  add(a: string, b: string): string {
    return this.op('Add', [a, b]);
  }

  mul(a: string, b: string): string {
    return this.op('Mul', [a, b]);
  }

  matmul(a: string, b: string): string {
    return this.op('MatMul', [a, b]);
  }

  /** Dense layer: x @ W + b, with W [inDim, outDim] (x may have any leading dims). */
  linear(x: string, prefix: string, inDim: number, outDim: number, opts: { std?: number; bias?: number } = {}): string {
    // Default std 1/sqrt(inDim) keeps activations around unit scale, so outputs differ visibly
    // between inputs (a 0.02-std BERT init would make every input give nearly the same logits).
    const w = this.weight(`${prefix}.weight`, [inDim, outDim], opts.std ?? 1 / Math.sqrt(inDim));
    const b = this.weight(`${prefix}.bias`, [outDim], opts.bias ?? 0.1);
    return this.add(this.matmul(x, w), b);
  }

  /** LayerNormalization over the last axis with learned-looking gain/bias (opset 17+). */
  layerNorm(x: string, prefix: string, dim: number, epsilon: number): string {
    const gain = this.tensor(`${prefix}.weight`, [dim], Rng.forTensor(this.seed, `${prefix}.weight`).uniformArray(dim, 0.1).map((v) => 1 + v));
    const bias = this.weight(`${prefix}.bias`, [dim], 0.05);
    return this.op('LayerNormalization', [x, gain, bias], { axis: int(-1), epsilon: float(epsilon) });
  }

  /** Exact GELU, 0.5·x·(1 + erf(x/√2)); the Gelu op only exists from opset 20. */
  gelu(x: string): string {
    const erf = this.op('Erf', [this.mul(x, this.f32(Math.SQRT1_2))]);
    return this.mul(this.mul(x, this.f32(0.5)), this.add(erf, this.f32(1)));
  }

  /** Dimension `axis` of `x` as an int64 scalar. */
  dim(x: string, axis: number): string {
    return this.op('Gather', [this.op('Shape', [x]), this.i64([axis], [])], { axis: int(0) });
  }

  /** Encodes the finished graph as `model.onnx` bytes. */
  toBytes(graphName: string, docString: string): Uint8Array {
    const model: OnnxTypes.IModelProto = {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: '', version: OPSET }],
      producerName: 'modelhost-tiny-models',
      producerVersion: '1',
      docString,
      graph: {
        name: graphName,
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
    return onnx.ModelProto.encode(model).finish();
  }
}

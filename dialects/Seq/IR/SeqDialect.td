//===- SeqDialect.td - the seq dialect definition ----------*- tablegen -*-===//
//
// The seq dialect: model-level operations of sequence models (RWKV WKV
// recurrences, spiking neurons, quantization and rotation, attention over
// compressed KV caches).
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_DIALECT_SEQ_SEQDIALECT_TD
#define SEQC_DIALECT_SEQ_SEQDIALECT_TD

include "mlir/IR/OpBase.td"
include "mlir/IR/AttrTypeBase.td"

def Seq_Dialect : Dialect {
  let name = "seq";
  let cppNamespace = "::mlir::seq";
  let summary = "Model-level operations of recurrent, spiking and attention sequence models";
  let description = [{
    The `seq` dialect holds the operations that sequence models are made of and
    that upstream dialects do not have: the WKV recurrences of RWKV-4 to RWKV-7
    and token shift, leaky integrate-and-fire neurons and the Heaviside step of
    spiking models, group-wise quantization with real bit widths, Walsh–Hadamard
    rotations and RoPE, and a KV cache with append, attention and eviction.

    Every operation works on value-semantics tensors (or on the value-semantics
    `!seq.kv_cache` type) and makes recurrent state explicit: a state operand
    goes in and the updated state comes out. The same operation therefore
    serves prefill (a sequence of `T > 1` tokens) and decode (`T = 1`), and a
    model's state can be saved, restored and forked by the runtime.

    Everything else a model needs (matrix products, norms, activations) is
    expressed with upstream dialects (`linalg`, `arith`, `math`, `tensor`).
  }];
  let dependentDialects = ["::mlir::arith::ArithDialect",
                           "::mlir::tensor::TensorDialect"];
  let useDefaultAttributePrinterParser = 1;
  let useDefaultTypePrinterParser = 1;
  let hasConstantMaterializer = 1;
  let extraClassDeclaration = [{
  private:
    void registerAttributes();
    void registerTypes();
  }];
}

class Seq_Op<string mnemonic, list<Trait> traits = []>
    : Op<Seq_Dialect, mnemonic, traits>;

#endif // SEQC_DIALECT_SEQ_SEQDIALECT_TD

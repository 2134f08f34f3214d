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
  // Attributes seq's passes put on operations of any dialect. Each gets a
  // typed helper, `SeqDialect::<Name>AttrHelper(ctx)` (get, set, present,
  // remove), so that no pass spells the name as a string:
  //   seq.parallel          (unit) on linalg products and scf.for loops worth
  //                         all threads (seq-parallelize-products, -loops);
  //   seq.dot               (unit) on dot products kept on one thread;
  //   seq.softmax_exp       (unit) on the attention's softmax math.exp, which
  //                         becomes a polynomial;
  //   seq.model             (string) on the module: the model kind;
  //   seq.rotated           (unit) on a seq.kv_attention whose keys and
  //                         queries a rotation was folded into;
  //   seq.balanced          (unit) on a seq.kv_attention whose key channels
  //                         were balanced;
  //   seq.folded_rotations  (array of strings) on the module: the rotations
  //                         the importer folded into the weights;
  //   seq.max_trips         (i64) on an scf.for whose bounds are known only
  //                         at run time: the most iterations it runs (the
  //                         KV lowering's token loops for GPU targets, whose
  //                         kernels are checked against a device's loop
  //                         limit).
  let discardableAttrs = (ins
    "::mlir::UnitAttr":$parallel,
    "::mlir::UnitAttr":$dot,
    "::mlir::UnitAttr":$softmax_exp,
    "::mlir::StringAttr":$model,
    "::mlir::UnitAttr":$rotated,
    "::mlir::UnitAttr":$balanced,
    "::mlir::ArrayAttr":$folded_rotations,
    "::mlir::IntegerAttr":$max_trips
  );
  let extraClassDeclaration = [{
  private:
    void registerAttributes();
    void registerTypes();
  }];
}

class Seq_Op<string mnemonic, list<Trait> traits = []>
    : Op<Seq_Dialect, mnemonic, traits>;

#endif // SEQC_DIALECT_SEQ_SEQDIALECT_TD

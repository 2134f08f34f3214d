//===- EventC.cpp - the event code as C -----------------------------------===//
//
// The event functions EventCode.cpp generates (scf, arith, and loads and
// stores on strided buffers) translated to C through the EmitC dialect, for
// the artifact's event.c, which the CPU target compiles into model.so:
//
//  1. Each buffer argument becomes the pieces of MLIR's default memref
//     calling convention: allocated and aligned pointers, offset, sizes,
//     strides. So the host part, lowered by the CPU pipeline, calls the C
//     functions exactly as it would call MLIR functions taking memrefs, and
//     a port to another host (the processor beside a neuromorphic chip)
//     needs no descriptor structs. A load or store becomes a subscript of
//     the aligned pointer at offset + sum(index x stride); a dim, the size.
//  2. arith, scf and func go through the upstream EmitC conversions (index
//     as size_t), in one full conversion.
//  3. mlir::emitc::translateToCpp prints the module; what it prints for
//     these ops is C99 with <stdint.h>, <stddef.h> and <stdbool.h>.
//
// The arithmetic is the CPU lowering's f32 operations, one per statement,
// so the C must be compiled without contraction (-ffp-contract=off), as the
// CPU target does, to give the same bits. `index` becomes size_t, which is
// how MLIR's LLVM lowering passes it (64 bits) on LP64 hosts, the ones the
// CPU target builds for; offsets and strides are non-negative here (the
// caller's buffers come from allocations and identity or row-major views).
//
//===----------------------------------------------------------------------===//

#include "SpikingPartition.h"

#include "mlir/Conversion/ArithToEmitC/ArithToEmitC.h"
#include "mlir/Conversion/FuncToEmitC/FuncToEmitC.h"
#include "mlir/Conversion/SCFToEmitC/SCFToEmitC.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/EmitC/Transforms/TypeConversions.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/Target/Cpp/CppEmitter.h"
#include "mlir/Transforms/DialectConversion.h"
#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include "llvm/Support/raw_ostream.h"

using namespace mlir;

namespace {

/// The pieces of one buffer argument.
struct Buffer {
  Value aligned; // !emitc.ptr<element>
  Value offset;
  SmallVector<Value> sizes, strides;
};

/// The C element type of a buffer of `element`.
Type cElement(Type element) {
  if (isa<IndexType>(element))
    return emitc::SizeTType::get(element.getContext());
  return element;
}

Value castTo(OpBuilder &b, Location loc, Type type, Value v) {
  if (v.getType() == type)
    return v;
  return UnrealizedConversionCastOp::create(b, loc, type, v).getResult(0);
}

/// The element of `buffer` at `indices`, as an lvalue.
Value subscript(OpBuilder &b, Location loc, const Buffer &buffer,
                ValueRange indices) {
  Value linear = buffer.offset;
  for (auto [i, stride] : llvm::zip_equal(indices, buffer.strides)) {
    Value term = arith::MulIOp::create(b, loc, i, stride);
    linear = arith::AddIOp::create(b, loc, linear, term);
  }
  Value index = castTo(b, loc, emitc::SizeTType::get(b.getContext()), linear);
  auto pointer = cast<TypedValue<emitc::PointerType>>(buffer.aligned);
  return emitc::SubscriptOp::create(b, loc, pointer, index);
}

/// Replaces the memref arguments of `f` by their pieces and their loads,
/// stores and dims by subscripts of the aligned pointer. `names` names the
/// arguments; `doc` gets a line per argument: its C parameters.
LogicalResult scalarizeBuffers(func::FuncOp f, ArrayRef<StringRef> names,
                               std::string &doc) {
  MLIRContext *ctx = f.getContext();
  Block &entry = f.front();
  Type indexType = IndexType::get(ctx);
  llvm::raw_string_ostream os(doc);
  os << "/* " << f.getName() << ": C parameters\n";
  unsigned argument = 0;
  for (unsigned i = 0; i < entry.getNumArguments(); ++i, ++argument) {
    BlockArgument arg = entry.getArgument(i);
    StringRef name = argument < names.size() ? names[argument] : "";
    auto type = dyn_cast<MemRefType>(arg.getType());
    if (!type) {
      os << " *   v" << i + 1 << ": " << name << "\n";
      continue;
    }
    Location loc = arg.getLoc();
    Type element = cElement(type.getElementType());
    auto pointer = emitc::PointerType::get(element);
    int64_t rank = type.getRank();
    // allocated, aligned, offset, sizes, strides: after the buffer, which
    // is then erased.
    // Through the function's interface, so that its type and argument
    // attributes follow.
    unsigned at = i + 1;
    auto insert = [&](Type t) -> FailureOr<Value> {
      if (failed(f.insertArgument(at, t, DictionaryAttr(), loc)))
        return failure();
      return Value(entry.getArgument(at++));
    };
    SmallVector<Type> pieces = {pointer, pointer, indexType};
    pieces.append(2 * rank, indexType);
    SmallVector<Value> values;
    for (Type t : pieces) {
      FailureOr<Value> v = insert(t);
      if (failed(v))
        return f.emitError("event code as C: cannot add an argument");
      values.push_back(*v);
    }
    Buffer buffer; // values[0]: the allocated pointer, unused
    buffer.aligned = values[1];
    buffer.offset = values[2];
    buffer.sizes.assign(values.begin() + 3, values.begin() + 3 + rank);
    buffer.strides.assign(values.begin() + 3 + rank, values.end());

    for (Operation *user : llvm::make_early_inc_range(arg.getUsers())) {
      OpBuilder b(user);
      Location l = user->getLoc();
      if (auto load = dyn_cast<memref::LoadOp>(user)) {
        Value lvalue = subscript(b, l, buffer, load.getIndices());
        Value v = emitc::LoadOp::create(b, l, element, lvalue);
        load.replaceAllUsesWith(castTo(b, l, load.getType(), v));
      } else if (auto store = dyn_cast<memref::StoreOp>(user)) {
        Value lvalue = subscript(b, l, buffer, store.getIndices());
        Value v = castTo(b, l, element, store.getValueToStore());
        emitc::AssignOp::create(b, l, lvalue, v);
      } else if (auto dim = dyn_cast<memref::DimOp>(user)) {
        std::optional<int64_t> d = dim.getConstantIndex();
        if (!d || *d < 0 || *d >= rank)
          return dim.emitError("event code as C: a dim of a buffer needs a "
                               "constant dimension");
        dim.replaceAllUsesWith(buffer.sizes[*d]);
      } else {
        return user->emitError("event code as C: a buffer argument used by ")
               << user->getName() << ", which the translation to C does not "
               << "handle (loads, stores and dims only)";
      }
      user->erase();
    }
    if (failed(f.eraseArgument(i)))
      return f.emitError("event code as C: cannot remove an argument");
    // C numbers the parameters from 1.
    os << " *   v" << i + 1 << "-v" << at - 1 << ": " << name
       << " (allocated, aligned, offset";
    if (rank == 1)
      os << ", size, stride";
    else if (rank > 1)
      os << ", sizes[" << rank << "], strides[" << rank << "]";
    os << ")\n";
    i = at - 2; // the last piece
  }
  os << " */";
  return success();
}

} // namespace

llvm::Expected<std::string>
seqc::neuro::translateEventCodeToC(ModuleOp module) {
  // The EmitC dialect is loaded: a dependent dialect of the event code pass.
  MLIRContext *ctx = module.getContext();
  std::string diagnostics;
  llvm::raw_string_ostream diagOS(diagnostics);
  ScopedDiagnosticHandler handler(ctx, [&](Diagnostic &d) {
    diagOS << d.getLocation() << ": " << d << "\n";
    for (Diagnostic &note : d.getNotes())
      diagOS << note.getLocation() << ": note: " << note << "\n";
    return success();
  });
  auto fail = [&](const Twine &what) -> llvm::Error {
    return llvm::createStringError("event code as C: " + what +
                                   (diagnostics.empty() ? "" : ":\n") +
                                   diagnostics);
  };

  // Folded first (index arithmetic with zeros, x - 0.0), so that the C has
  // no unused variables; folding keeps the f32 results bit for bit. Only
  // cosmetic: whether the driver converged does not matter.
  (void)applyPatternsGreedily(module, FrozenRewritePatternSet());
  OpBuilder b(ctx);
  for (auto f : module.getOps<func::FuncOp>()) {
    SmallVector<StringRef> names;
    if (auto list = f->getAttrOfType<ArrayAttr>(kEventArgumentNames))
      for (Attribute a : list)
        names.push_back(cast<StringAttr>(a).getValue());
    std::string doc;
    if (failed(scalarizeBuffers(f, names, doc)))
      return fail("the buffer arguments");
    f->removeAttr(kEventArgumentNames);
    b.setInsertionPoint(f);
    emitc::VerbatimOp::create(b, f.getLoc(), doc);
  }

  TypeConverter types;
  types.addConversion([](Type t) { return t; });
  populateEmitCSizeTTypeConversions(types);
  ConversionTarget target(*ctx);
  target.addLegalDialect<emitc::EmitCDialect>();
  target.addLegalOp<ModuleOp, UnrealizedConversionCastOp>();
  target.addIllegalDialect<arith::ArithDialect, scf::SCFDialect,
                           func::FuncDialect, memref::MemRefDialect>();
  RewritePatternSet patterns(ctx);
  populateArithToEmitCPatterns(types, patterns);
  populateSCFToEmitCConversionPatterns(patterns, types);
  populateFuncToEmitCPatterns(types, patterns);
  if (failed(applyFullConversion(module, target, std::move(patterns))))
    return fail("the conversion to EmitC");
  SmallVector<UnrealizedConversionCastOp> casts, remaining;
  module.walk([&](UnrealizedConversionCastOp c) { casts.push_back(c); });
  reconcileUnrealizedCasts(casts, &remaining);
  if (!remaining.empty())
    return fail("a cast between index and size_t is left");

  b.setInsertionPointToStart(module.getBody());
  for (StringRef header : {"stdbool.h", "stddef.h", "stdint.h"})
    emitc::IncludeOp::create(b, module.getLoc(), header,
                             /*is_standard_include=*/true);

  std::string text =
      "/* The event-driven code of the LIF populations, generated by seqc\n"
      " * (--target=neuro) from the model's seq IR; compiled into model.so.\n"
      " *\n"
      " * seqc_event_<layer function>_site<k>(input [T][N], v [N],\n"
      " *     spikes [T][N], new v [N], queue [N], counters [C], layer\n"
      " *     [, x [T][N], x + spikes [T][N]]):\n"
      " * per tick t, every membrane is updated and each neuron that fires\n"
      " * is pushed on the queue; with a residual stream x, each spike\n"
      " * dequeued adds 1 to its neuron's channel (one synaptic event, one\n"
      " * accumulate). counters[4 * (layer * sites + k) + i] count spikes,\n"
      " * synaptic events, accumulates and membrane updates.\n"
      " *\n"
      " * Each buffer is passed as MLIR's memref calling convention:\n"
      " * allocated and aligned pointers, offset, sizes, strides (elements).\n"
      " * Compile with -ffp-contract=off: the f32 operations are the CPU\n"
      " * lowering's, in its order, one per statement. */\n\n";
  llvm::raw_string_ostream os(text);
  if (failed(emitc::translateToCpp(module, os)))
    return fail("printing C");
  return text;
}

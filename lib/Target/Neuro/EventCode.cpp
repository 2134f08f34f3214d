//===- EventCode.cpp - event-driven code for the LIF populations ----------===//
//
// The pass that turns the spiking partition into event-driven code before
// the CPU pipeline lowers the module. Each seq.lif of a layer function, with
// the residual add of its spikes, becomes a call to a function this pass
// generates for it, which per tick updates every membrane, enqueues the
// index of each neuron that fires in its population's event queue, and then,
// only for the spikes it dequeues, does the synaptic work: one accumulate
// into the residual stream per spike. The event functions (scf, arith, loads
// and stores of buffers the caller passes, queue and counters included) move
// to their own module, which serialize() translates to C (EventC.cpp,
// event.c); the model's module keeps their declarations. Counters in a
// module global (spikes, synaptic events, accumulates and membrane updates
// per population; dense multiply-accumulates of the host part per layer and
// of the head) are incremented by the event code and by the host part's
// contractions, and read by the runtime through `seqc_event_counters`.
//
// Layer functions are shared by the layers, so each gets the layer's index
// as one more argument, which its callers pass in call order.
//
//===----------------------------------------------------------------------===//

#include "SpikingPartition.h"

#include "dialects/Seq/IR/SeqOps.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/EmitC/IR/EmitC.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Tensor/IR/Tensor.h"
#include "mlir/Pass/Pass.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;
using namespace seqc::neuro;

namespace {

constexpr StringLiteral kCountersGlobal = "seqc_event_counter_data";
constexpr StringLiteral kCountersEntry = "seqc_event_counters";

/// True for an all-parallel generic of two inputs, one of them `spikes`,
/// whose body yields their sum: the residual add.
bool isResidualAdd(linalg::GenericOp g, Value spikes) {
  if (g.getNumReductionLoops() != 0 || g.getNumDpsInputs() != 2 ||
      g.getNumDpsInits() != 1 || g->getNumResults() != 1)
    return false;
  if (!llvm::all_of(g.getIndexingMapsArray(),
                    [](AffineMap m) { return m.isIdentity(); }))
    return false;
  auto yield = cast<linalg::YieldOp>(g.getBody()->getTerminator());
  auto add = yield.getOperand(0).getDefiningOp<arith::AddFOp>();
  if (!add || !isa<BlockArgument>(add.getLhs()) ||
      !isa<BlockArgument>(add.getRhs()) || add.getLhs() == add.getRhs())
    return false;
  if (cast<BlockArgument>(add.getLhs()).getArgNumber() >= 2 ||
      cast<BlockArgument>(add.getRhs()).getArgNumber() >= 2)
    return false;
  return llvm::count(g.getDpsInputs(), spikes) == 1 &&
         g.getResult(0).getType() == spikes.getType();
}

/// A fully dynamic strided memref of `rank` `element`s (what any buffer
/// casts to).
MemRefType anyLayout(Type element, int64_t rank) {
  MLIRContext *ctx = element.getContext();
  SmallVector<int64_t> shape(rank, ShapedType::kDynamic);
  SmallVector<int64_t> strides(rank, ShapedType::kDynamic);
  return MemRefType::get(
      shape, element,
      StridedLayoutAttr::get(ctx, ShapedType::kDynamic, strides));
}
MemRefType anyLayout(MLIRContext *ctx, int64_t rank) {
  return anyLayout(Float32Type::get(ctx), rank);
}

class EventCodeGen {
public:
  EventCodeGen(ModuleOp module, SpikingPartition &partition)
      : module(module), partition(partition), ctx(module.getContext()) {}

  LogicalResult run() {
    layers = partition.layerMacs.size();
    sites = partition.sitesPerLayer;
    numCounters = 4 * layers * sites + layers + 1;

    // The functions holding seq.lif (the layer functions).
    SetVector<func::FuncOp> lifFuncs;
    WalkResult nested = module.walk([&](seq::LIFOp lif) -> WalkResult {
      auto f = lif->getParentOfType<func::FuncOp>();
      if (f.isPublic())
        return lif.emitError("--target=neuro: event code needs the seq.lif "
                             "ops in layer functions the entries call, not "
                             "in an entry");
      lifFuncs.insert(f);
      return WalkResult::advance();
    });
    if (nested.wasInterrupted())
      return failure();

    OpBuilder b(ctx);
    b.setInsertionPointToStart(module.getBody());
    auto countersType =
        MemRefType::get({numCounters}, IntegerType::get(ctx, 64));
    memref::GlobalOp::create(
        b, module.getLoc(), kCountersGlobal, b.getStringAttr("private"),
        countersType,
        DenseElementsAttr::get(
            RankedTensorType::get({numCounters}, b.getI64Type()),
            b.getI64IntegerAttr(0).getValue()),
        /*constant=*/false, /*alignment=*/nullptr);
    buildCountersEntry(b, countersType);

    // Callers pass the layer index, in call order.
    for (func::FuncOp f : lifFuncs)
      if (failed(addLayerArgument(f)))
        return failure();

    // Dense MACs: every contraction not fed by spikes, in a layer function
    // (that layer's) or an entry (the head's).
    for (auto f : module.getOps<func::FuncOp>()) {
      if (f.isExternal())
        continue;
      bool inLayer = lifFuncs.contains(f);
      WalkResult r = f.walk([&](linalg::LinalgOp op) -> WalkResult {
        if (!isDenseProduct(op) || readsSpikes(op))
          return WalkResult::advance();
        if (!inLayer && !f.isPublic())
          return op->emitError("--target=neuro: event code counts the "
                               "contractions of layer functions and entries; "
                               "this one is in ")
                 << f.getName();
        OpBuilder ib(op);
        Value slot;
        if (inLayer) {
          Value first = constIndex(ib, 4 * layers * sites);
          slot = arith::AddIOp::create(ib, op.getLoc(), layerArg(f), first);
        } else {
          slot = constIndex(ib, 4 * layers * sites + layers);
        }
        Value n = constI64(ib, 1);
        for (Range r : op.createLoopRanges(ib, op.getLoc())) {
          Value size = getValueOrCreateConstantIndexOp(ib, op.getLoc(), r.size);
          Value size64 = arith::IndexCastOp::create(ib, op.getLoc(),
                                                    ib.getI64Type(), size);
          n = arith::MulIOp::create(ib, op.getLoc(), n, size64);
        }
        addToCounter(ib, op.getLoc(), countersGlobal(ib, op.getLoc()), slot, n);
        return WalkResult::advance();
      });
      if (r.wasInterrupted())
        return failure();
    }

    // The populations.
    for (func::FuncOp f : lifFuncs) {
      SmallVector<seq::LIFOp> lifs;
      f.walk([&](seq::LIFOp lif) { lifs.push_back(lif); });
      if ((int64_t)lifs.size() != sites)
        return f.emitError("--target=neuro: ")
               << f.getName() << " has " << lifs.size()
               << " seq.lif ops, the partition " << sites << " per layer";
      for (auto [site, lif] : llvm::enumerate(lifs))
        if (failed(replace(f, lif, site)))
          return failure();
    }

    // The event functions to their own module, translated to C; the model
    // keeps their declarations, for the CPU pipeline.
    OwningOpRef<ModuleOp> eventCode = ModuleOp::create(module.getLoc());
    OpBuilder db(ctx);
    for (func::FuncOp event : eventFunctions) {
      db.setInsertionPoint(event);
      auto decl = func::FuncOp::create(db, event.getLoc(), event.getName(),
                                       event.getFunctionType());
      decl.setPrivate();
      event->remove();
      event.setPublic();
      eventCode->push_back(event);
    }
    auto c = translateEventCodeToC(*eventCode);
    if (!c)
      return module.emitError("--target=neuro: ")
             << llvm::toString(c.takeError());
    partition.eventC = std::move(*c);
    return success();
  }

private:
  ModuleOp module;
  SpikingPartition &partition;
  MLIRContext *ctx;
  int64_t layers = 0, sites = 0, numCounters = 0;
  SmallVector<func::FuncOp> eventFunctions;

  Value constIndex(OpBuilder &b, int64_t v) {
    return arith::ConstantIndexOp::create(b, b.getUnknownLoc(), v);
  }
  Value constI64(OpBuilder &b, int64_t v) {
    return arith::ConstantIntOp::create(b, b.getUnknownLoc(), v, 64);
  }
  Value layerArg(func::FuncOp f) {
    return f.getArgument(f.getNumArguments() - 1);
  }

  Value countersGlobal(OpBuilder &b, Location loc) {
    auto type = MemRefType::get({numCounters}, b.getI64Type());
    return memref::GetGlobalOp::create(b, loc, type, kCountersGlobal);
  }

  /// counters[slot] += n (n: i64).
  void addToCounter(OpBuilder &b, Location loc, Value counters, Value slot,
                    Value n) {
    Value old = memref::LoadOp::create(b, loc, counters, ValueRange{slot});
    Value sum = arith::AddIOp::create(b, loc, old, n);
    memref::StoreOp::create(b, loc, sum, counters, ValueRange{slot});
  }

  /// `seqc_event_counters(out)`: copies the counters into `out` (the C
  /// interface's memref, for the runtime's event driver).
  void buildCountersEntry(OpBuilder &b, MemRefType type) {
    Location loc = module.getLoc();
    auto f = func::FuncOp::create(b, loc, kCountersEntry,
                                  b.getFunctionType({type}, {}));
    f->setAttr("llvm.emit_c_interface", b.getUnitAttr());
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(f.addEntryBlock());
    Value g = memref::GetGlobalOp::create(b, loc, type, kCountersGlobal);
    Value c0 = constIndex(b, 0);
    Value cn = constIndex(b, numCounters);
    Value c1 = constIndex(b, 1);
    scf::ForOp::create(
        b, loc, c0, cn, c1, ValueRange{},
        [&](OpBuilder &nb, Location l, Value i, ValueRange) {
          Value v = memref::LoadOp::create(nb, l, g, ValueRange{i});
          memref::StoreOp::create(nb, l, v, f.getArgument(0), ValueRange{i});
          scf::YieldOp::create(nb, l);
        });
    func::ReturnOp::create(b, loc);
  }

  LogicalResult addLayerArgument(func::FuncOp f) {
    if (failed(f.insertArgument(f.getNumArguments(), IndexType::get(ctx), {},
                                f.getLoc())))
      return failure();
    // Each caller numbers its calls to layer functions in order.
    auto uses = SymbolTable::getSymbolUses(f, module);
    SmallVector<func::CallOp> calls;
    for (const SymbolTable::SymbolUse &use : *uses) {
      auto call = dyn_cast<func::CallOp>(use.getUser());
      if (!call)
        return use.getUser()->emitError(
            "--target=neuro: a layer function used other than by a call");
      calls.push_back(call);
    }
    for (func::CallOp call : calls) {
      auto caller = call->getParentOfType<func::FuncOp>();
      if (call->getParentOp() != caller)
        return call.emitError("--target=neuro: event code needs the layer "
                              "calls in the entry's body, not in a loop");
      int64_t layer = 0;
      for (Operation &op : caller.getBody().front()) {
        if (&op == call.getOperation())
          break;
        if (auto c = dyn_cast<func::CallOp>(op))
          if (auto g = module.lookupSymbol<func::FuncOp>(c.getCallee()))
            if (hasLIF(g))
              ++layer;
      }
      if (layer >= layers)
        return call.emitError("--target=neuro: layer call ")
               << layer << " of " << caller.getName() << ", but seqc_step has "
               << layers << " layers";
      OpBuilder cb(call);
      SmallVector<Value> operands(call.getOperands());
      operands.push_back(constIndex(cb, layer));
      call->setOperands(operands);
    }
    return success();
  }

  bool hasLIF(func::FuncOp f) {
    bool found = false;
    f.walk([&](seq::LIFOp) { found = true; });
    return found;
  }

  /// The event function of one site: (input [T, N], v [N], spikes [T, N],
  /// new v [N], event queue [N], counters, layer) plus, with a residual
  /// add, (x [T, N], x + spikes [T, N]). The caller owns every buffer. One
  /// op per statement: the order of the emitted ops (and of event.c's
  /// statements) must not depend on the host compiler.
  func::FuncOp buildEventFunction(func::FuncOp layerFunc, seq::LIFOp lif,
                                  int64_t site, bool residual) {
    OpBuilder b(ctx);
    b.setInsertionPointAfter(layerFunc);
    Location loc = lif.getLoc();
    MemRefType m2 = anyLayout(ctx, 2), m1 = anyLayout(ctx, 1);
    SmallVector<Type> args = {m2,
                              m1,
                              m2,
                              m1,
                              anyLayout(b.getIndexType(), 1),
                              anyLayout(b.getI64Type(), 1),
                              b.getIndexType()};
    if (residual)
      args.append({m2, m2});
    std::string name =
        ("seqc_event_" + layerFunc.getName() + "_site" + Twine(site)).str();
    auto f = func::FuncOp::create(b, loc, name, b.getFunctionType(args, {}));
    f.setPrivate();
    SmallVector<StringRef> names = {
        "input [T][N]",    "v [N]",    "spikes [T][N]", "new v [N]",
        "event queue [N]", "counters", "layer"};
    if (residual)
      names.append({"residual stream x [T][N]", "x + spikes [T][N]"});
    f->setAttr(kEventArgumentNames, b.getStrArrayAttr(names));
    eventFunctions.push_back(f);
    b.setInsertionPointToStart(f.addEntryBlock());
    Value in = f.getArgument(0), v0 = f.getArgument(1),
          spikes = f.getArgument(2), v = f.getArgument(3),
          queue = f.getArgument(4), counters = f.getArgument(5),
          layer = f.getArgument(6);
    Value x = residual ? f.getArgument(7) : Value();
    Value next = residual ? f.getArgument(8) : Value();

    Value c0 = constIndex(b, 0);
    Value c1 = constIndex(b, 1);
    Value T = memref::DimOp::create(b, loc, in, c0);
    Value N = memref::DimOp::create(b, loc, v0, c0);
    auto f32 = [&](OpBuilder &nb, double d) -> Value {
      return arith::ConstantOp::create(nb, loc, nb.getF32FloatAttr(d));
    };
    auto copy = [&](OpBuilder &cb, Value from, Value to, ValueRange at) {
      scf::ForOp::create(cb, loc, c0, N, c1, ValueRange{},
                         [&](OpBuilder &nb, Location nl, Value j, ValueRange) {
                           SmallVector<Value> index(at);
                           index.push_back(j);
                           Value e =
                               memref::LoadOp::create(nb, nl, from, index);
                           memref::StoreOp::create(nb, nl, e, to, index);
                           scf::YieldOp::create(nb, nl);
                         });
    };
    // The membrane, updated in place tick by tick.
    copy(b, v0, v, {});

    bool decayInput = lif.getDecayInput();
    bool hard = lif.getReset() == seq::ResetMode::Hard;
    auto pred = lif.getFire() == seq::FireCmp::GE ? arith::CmpFPredicate::OGE
                                                  : arith::CmpFPredicate::OGT;
    // counters[(layer * sites + site) * 4 + field]
    Value sitesC = constIndex(b, sites);
    Value siteC = constIndex(b, site);
    Value four = constIndex(b, 4);
    Value population = arith::MulIOp::create(b, loc, layer, sitesC);
    population = arith::AddIOp::create(b, loc, population, siteC);
    Value base = arith::MulIOp::create(b, loc, population, four);
    auto count = [&](OpBuilder &nb, int64_t k, Value n) {
      Value kC = constIndex(nb, k);
      Value slot = arith::AddIOp::create(nb, loc, base, kC);
      addToCounter(nb, loc, counters, slot, n);
    };

    scf::ForOp::create(
        b, loc, c0, T, c1, ValueRange{},
        [&](OpBuilder &tb, Location l, Value t, ValueRange) {
          // Membrane updates: every neuron, every tick; a neuron that
          // fires is enqueued.
          auto neurons = scf::ForOp::create(
              tb, l, c0, N, c1, ValueRange{c0},
              [&](OpBuilder &nb, Location nl, Value j, ValueRange it) {
                Value cur =
                    memref::LoadOp::create(nb, nl, in, ValueRange{t, j});
                Value vj = memref::LoadOp::create(nb, nl, v, ValueRange{j});
                Value tau = f32(nb, lif.getTau().convertToFloat());
                Value thr = f32(nb, lif.getVThreshold().convertToFloat());
                Value rst = f32(nb, lif.getVReset().convertToFloat());
                Value one = f32(nb, 1.0);
                Value zero = f32(nb, 0.0);
                auto sub = [&](Value p, Value q) -> Value {
                  return arith::SubFOp::create(nb, nl, p, q);
                };
                auto add = [&](Value p, Value q) -> Value {
                  return arith::AddFOp::create(nb, nl, p, q);
                };
                auto div = [&](Value p, Value q) -> Value {
                  return arith::DivFOp::create(nb, nl, p, q);
                };
                // The same operations, in the same order, as the CPU
                // lowering of seq.lif (SeqToLinalg/LIF.cpp).
                Value h;
                if (decayInput) {
                  Value above = sub(vj, rst);
                  Value drive = sub(cur, above);
                  h = add(vj, div(drive, tau));
                } else {
                  Value above = sub(vj, rst);
                  Value decayed = sub(vj, div(above, tau));
                  h = add(decayed, cur);
                }
                Value fired = arith::CmpFOp::create(nb, nl, pred, h, thr);
                Value s = arith::SelectOp::create(nb, nl, fired, one, zero);
                Value reset;
                if (hard) {
                  reset = arith::SelectOp::create(nb, nl, fired, rst, h);
                } else {
                  Value dropped = arith::MulFOp::create(nb, nl, s, thr);
                  reset = sub(h, dropped);
                }
                memref::StoreOp::create(nb, nl, reset, v, ValueRange{j});
                memref::StoreOp::create(nb, nl, s, spikes, ValueRange{t, j});
                // Enqueue: the slot past the queue's end is overwritten
                // unless the neuron fired.
                memref::StoreOp::create(nb, nl, j, queue, ValueRange{it[0]});
                Value longer = arith::AddIOp::create(nb, nl, it[0], c1);
                Value grown =
                    arith::SelectOp::create(nb, nl, fired, longer, it[0]);
                scf::YieldOp::create(nb, nl, grown);
              });
          Value fired = neurons.getResult(0);
          Value fired64 =
              arith::IndexCastOp::create(tb, l, tb.getI64Type(), fired);
          count(tb, 0, fired64);
          Value updates = arith::IndexCastOp::create(tb, l, tb.getI64Type(), N);
          count(tb, 3, updates);
          if (!residual) {
            scf::YieldOp::create(tb, l);
            return;
          }
          // The residual stream passes on; each dequeued spike adds 1 to
          // its neuron's channel: one synaptic event, one accumulate.
          copy(tb, x, next, {t});
          scf::ForOp::create(
              tb, l, c0, fired, c1, ValueRange{},
              [&](OpBuilder &nb, Location nl, Value e, ValueRange) {
                Value j = memref::LoadOp::create(nb, nl, queue, ValueRange{e});
                Value xj =
                    memref::LoadOp::create(nb, nl, next, ValueRange{t, j});
                Value one = f32(nb, 1.0);
                Value sum = arith::AddFOp::create(nb, nl, xj, one);
                memref::StoreOp::create(nb, nl, sum, next, ValueRange{t, j});
                scf::YieldOp::create(nb, nl);
              });
          count(tb, 1, fired64);
          count(tb, 2, fired64);
          scf::YieldOp::create(tb, l);
        });
    func::ReturnOp::create(b, loc);
    return f;
  }

  LogicalResult replace(func::FuncOp f, seq::LIFOp lif, int64_t site) {
    auto inType = cast<RankedTensorType>(lif.getInput().getType());
    auto vType = cast<RankedTensorType>(lif.getV().getType());
    if (inType.getRank() != 2 || vType.getRank() != 1 ||
        !inType.getElementType().isF32() || !vType.getElementType().isF32())
      return lif.emitError("--target=neuro: event code handles populations "
                           "of f32 neurons with input [T, N] and membrane "
                           "[N]; this one has ")
             << inType << " and " << vType;
    // The residual add (at most one) and spike-fed projections, which stay
    // on the host.
    linalg::GenericOp residualAdd;
    for (Operation *user : lif.getSpikes().getUsers()) {
      auto g = dyn_cast<linalg::GenericOp>(user);
      if (g && !residualAdd && isResidualAdd(g, lif.getSpikes()))
        residualAdd = g;
      else if (auto l = dyn_cast<linalg::LinalgOp>(user);
               l && isDenseProduct(l))
        return l->emitError("--target=neuro: a projection fed by spikes: "
                            "event code for it is not generated yet");
    }
    func::FuncOp event = buildEventFunction(f, lif, site, (bool)residualAdd);

    OpBuilder b(residualAdd ? residualAdd.getOperation() : lif.getOperation());
    // Operands must dominate the call: the residual add comes after the
    // lif, and x was defined before it.
    Location loc = lif.getLoc();
    auto toBuffer = [&](Value t) -> Value {
      auto type = cast<RankedTensorType>(t.getType());
      SmallVector<int64_t> strides(type.getRank(), ShapedType::kDynamic);
      auto mt = MemRefType::get(
          type.getShape(), type.getElementType(),
          StridedLayoutAttr::get(ctx, ShapedType::kDynamic, strides));
      Value buf =
          bufferization::ToBufferOp::create(b, loc, mt, t, /*read_only=*/true);
      return memref::CastOp::create(b, loc, anyLayout(ctx, type.getRank()),
                                    buf);
    };
    auto alloc = [&](RankedTensorType type, Value like) -> Value {
      SmallVector<Value> dyn;
      for (int64_t d = 0; d < type.getRank(); ++d)
        if (type.isDynamicDim(d))
          dyn.push_back(tensor::DimOp::create(b, loc, like, d));
      return memref::AllocOp::create(
          b, loc, MemRefType::get(type.getShape(), type.getElementType()), dyn);
    };
    auto spikesType = cast<RankedTensorType>(lif.getSpikes().getType());
    auto newVType = cast<RankedTensorType>(lif.getNewV().getType());
    Value spikesBuf = alloc(spikesType, lif.getInput());
    Value vBuf = alloc(newVType, lif.getV());
    // The population's event queue: the neurons that fired this tick.
    SmallVector<Value> queueSize;
    if (vType.isDynamicDim(0))
      queueSize.push_back(tensor::DimOp::create(b, loc, lif.getV(), 0));
    Value queue = memref::AllocaOp::create(
        b, loc, MemRefType::get({vType.getDimSize(0)}, b.getIndexType()),
        queueSize);
    Value counters = countersGlobal(b, loc);
    // In a braced list, left to right.
    SmallVector<Value> operands = {
        toBuffer(lif.getInput()),
        toBuffer(lif.getV()),
        memref::CastOp::create(b, loc, anyLayout(ctx, 2), spikesBuf),
        memref::CastOp::create(b, loc, anyLayout(ctx, 1), vBuf),
        memref::CastOp::create(b, loc, anyLayout(b.getIndexType(), 1), queue),
        memref::CastOp::create(b, loc, anyLayout(b.getI64Type(), 1), counters),
        layerArg(f)};
    Value nextBuf;
    Value x;
    if (residualAdd) {
      for (Value in : residualAdd.getDpsInputs())
        if (in != lif.getSpikes())
          x = in;
      auto nextType =
          cast<RankedTensorType>(residualAdd.getResult(0).getType());
      nextBuf = alloc(nextType, x);
      operands.push_back(toBuffer(x));
      operands.push_back(
          memref::CastOp::create(b, loc, anyLayout(ctx, 2), nextBuf));
    }
    func::CallOp::create(b, loc, event, operands);
    auto toTensor = [&](Value buf, Type type) -> Value {
      return bufferization::ToTensorOp::create(
          b, loc, type, buf, b.getUnitAttr(), b.getUnitAttr());
    };
    Value spikes = toTensor(spikesBuf, spikesType);
    Value newV = toTensor(vBuf, newVType);
    if (residualAdd) {
      Value next = toTensor(nextBuf, residualAdd.getResult(0).getType());
      residualAdd.getResult(0).replaceAllUsesWith(next);
      residualAdd.erase();
    }
    lif.getSpikes().replaceAllUsesWith(spikes);
    lif.getNewV().replaceAllUsesWith(newV);
    lif.erase();
    return success();
  }
};

class EventCodePass
    : public PassWrapper<EventCodePass, OperationPass<ModuleOp>> {
public:
  MLIR_DEFINE_EXPLICIT_INTERNAL_INLINE_TYPE_ID(EventCodePass)

  explicit EventCodePass(std::shared_ptr<SpikingPartition> partition)
      : partition(std::move(partition)) {}
  StringRef getArgument() const final { return "seq-neuro-event-code"; }
  StringRef getDescription() const final {
    return "Replace the LIF populations by event-driven code for "
           "--target=neuro";
  }
  void getDependentDialects(DialectRegistry &registry) const override {
    registry.insert<arith::ArithDialect, bufferization::BufferizationDialect,
                    emitc::EmitCDialect, memref::MemRefDialect, scf::SCFDialect,
                    tensor::TensorDialect, func::FuncDialect>();
  }
  void runOnOperation() override {
    if (failed(EventCodeGen(getOperation(), *partition).run()))
      signalPassFailure();
  }

private:
  std::shared_ptr<SpikingPartition> partition;
};

} // namespace

std::unique_ptr<Pass>
seqc::neuro::createEventCodePass(std::shared_ptr<SpikingPartition> partition) {
  return std::make_unique<EventCodePass>(std::move(partition));
}

int64_t seqc::neuro::eventCounterCount(const SpikingPartition &p) {
  int64_t layers = p.layerMacs.size();
  return 4 * layers * p.sitesPerLayer + layers + 1;
}

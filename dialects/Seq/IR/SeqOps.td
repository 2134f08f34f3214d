//===- SeqOps.td - all seq dialect operations --------------*- tablegen -*-===//

#ifndef SEQC_DIALECT_SEQ_SEQOPS_TD
#define SEQC_DIALECT_SEQ_SEQOPS_TD

include "dialects/Seq/IR/SeqRecurrenceOps.td"
include "dialects/Seq/IR/SeqSpikingOps.td"
include "dialects/Seq/IR/SeqQuantOps.td"
include "dialects/Seq/IR/SeqKVOps.td"
include "dialects/Seq/IR/SeqWeightOps.td"

#endif // SEQC_DIALECT_SEQ_SEQOPS_TD

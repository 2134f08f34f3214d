//===- Eigen.h - symmetric eigendecomposition --------------------*- C++
//-*-===//
//
// Principal directions of a covariance matrix (seq-low-rank-kv's joint K/V
// basis), computed in double by cyclic Jacobi rotations.
//
//===----------------------------------------------------------------------===//

#ifndef SEQC_SUPPORT_EIGEN_H
#define SEQC_SUPPORT_EIGEN_H

#include <cstdint>
#include <vector>

namespace seqc {

/// Eigenvalues (descending) and eigenvectors of the symmetric n x n matrix
/// `a` (row major). vectors[i * n + k] is component i of the k-th vector;
/// each vector is normalized and signed so that its component of largest
/// magnitude (the first one, on ties) is positive, which makes the result
/// unique for distinct eigenvalues.
void symmetricEigen(const std::vector<double> &a, int64_t n,
                    std::vector<double> &values, std::vector<double> &vectors);

} // namespace seqc

#endif // SEQC_SUPPORT_EIGEN_H

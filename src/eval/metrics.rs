//! Clustering and recognition metrics: purity, normalised mutual information, majority mapping
//! of clusters to labels, accuracy and confusion matrix. Pure functions over label lists.

use std::collections::BTreeMap;

/// Contingency counts `cluster -> label -> n`.
fn contingency(clusters: &[i64], labels: &[usize]) -> BTreeMap<i64, BTreeMap<usize, u64>> {
    let mut m: BTreeMap<i64, BTreeMap<usize, u64>> = BTreeMap::new();
    for (&c, &l) in clusters.iter().zip(labels) {
        *m.entry(c).or_default().entry(l).or_default() += 1;
    }
    m
}

/// Purity: fraction of items whose label is their cluster's majority label (0 when empty).
pub fn purity(clusters: &[i64], labels: &[usize]) -> f64 {
    let n = clusters.len().min(labels.len());
    if n == 0 {
        return 0.0;
    }
    let hits: u64 = contingency(clusters, labels)
        .values()
        .map(|row| row.values().copied().max().unwrap_or(0))
        .sum();
    hits as f64 / n as f64
}

fn entropy(counts: impl Iterator<Item = u64>, n: f64) -> f64 {
    counts
        .filter(|&c| c > 0)
        .map(|c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum()
}

/// Normalised mutual information with the arithmetic-mean normalisation
/// (`2 I(U;V) / (H(U) + H(V))`, scikit-learn's default). 1 when both partitions are trivial.
pub fn nmi(clusters: &[i64], labels: &[usize]) -> f64 {
    let n = clusters.len().min(labels.len());
    if n == 0 {
        return 0.0;
    }
    let nf = n as f64;
    let table = contingency(&clusters[..n], &labels[..n]);
    let mut label_counts: BTreeMap<usize, u64> = BTreeMap::new();
    for row in table.values() {
        for (&l, &c) in row {
            *label_counts.entry(l).or_default() += c;
        }
    }
    let hu = entropy(table.values().map(|r| r.values().sum::<u64>()), nf);
    let hv = entropy(label_counts.values().copied(), nf);
    let mut mi = 0.0;
    for row in table.values() {
        let a: u64 = row.values().sum();
        for (l, &c) in row {
            if c == 0 {
                continue;
            }
            let b = label_counts[l];
            mi += (c as f64 / nf) * ((c as f64 * nf) / (a as f64 * b as f64)).ln();
        }
    }
    let denom = hu + hv;
    if denom <= 0.0 {
        1.0
    } else {
        (2.0 * mi / denom).clamp(0.0, 1.0)
    }
}

/// Majority label of every cluster (ties: the smaller label).
pub fn majority_map(clusters: &[i64], labels: &[usize]) -> BTreeMap<i64, usize> {
    contingency(clusters, labels)
        .into_iter()
        .filter_map(|(c, row)| {
            row.iter()
                .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
                .map(|(&l, _)| (c, l))
        })
        .collect()
}

/// Recognition: each predicted cluster is mapped through `map`; clusters without a mapping
/// (no training experience) count as errors. Returns `(accuracy, predicted labels)` where an
/// unmapped prediction is `None`.
pub fn recognise(
    map: &BTreeMap<i64, usize>,
    predicted: &[i64],
    truth: &[usize],
) -> (f64, Vec<Option<usize>>) {
    let pred: Vec<Option<usize>> = predicted.iter().map(|c| map.get(c).copied()).collect();
    let hits = pred
        .iter()
        .zip(truth)
        .filter(|(p, &t)| **p == Some(t))
        .count();
    let acc = if truth.is_empty() {
        0.0
    } else {
        hits as f64 / truth.len() as f64
    };
    (acc, pred)
}

/// Confusion matrix `[truth][predicted]` with `n_labels + 1` columns (the last: unmapped).
pub fn confusion(n_labels: usize, pred: &[Option<usize>], truth: &[usize]) -> Vec<Vec<u64>> {
    let mut m = vec![vec![0u64; n_labels + 1]; n_labels];
    for (p, &t) in pred.iter().zip(truth) {
        if t < n_labels {
            let col = p.filter(|&p| p < n_labels).unwrap_or(n_labels);
            m[t][col] += 1;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perfect_and_trivial_partitions() {
        let l = [0usize, 0, 1, 1, 2, 2];
        let perfect = [5i64, 5, 7, 7, 9, 9];
        assert!((nmi(&perfect, &l) - 1.0).abs() < 1e-12);
        assert_eq!(purity(&perfect, &l), 1.0);
        let one = [1i64; 6];
        assert!(nmi(&one, &l).abs() < 1e-12);
        assert!((purity(&one, &l) - 1.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn nmi_matches_a_hand_computed_value() {
        // sklearn.metrics.normalized_mutual_info_score([0,0,1,1],[0,0,0,1]) = 0.34371...
        let v = nmi(&[0, 0, 0, 1], &[0, 0, 1, 1]);
        assert!((v - 0.343_711_5).abs() < 1e-6, "{v}");
    }

    #[test]
    fn recognition_counts_unmapped_as_errors() {
        let map = majority_map(&[1, 1, 2], &[0, 0, 1]);
        let (acc, pred) = recognise(&map, &[1, 2, 3, 2], &[0, 1, 1, 0]);
        assert_eq!(acc, 0.5);
        assert_eq!(pred, vec![Some(0), Some(1), None, Some(1)]);
        let m = confusion(2, &pred, &[0, 1, 1, 0]);
        assert_eq!(m, vec![vec![1, 1, 0], vec![0, 1, 1]]);
    }
}

//! BIAS confidence over a proposal's votes: the mean vote discounted by disagreement.

/// `mean * 1 / (1 + std)` of `votes` (each in [0, 1]; population standard deviation): 1 for
/// unanimous full votes, the mean when voters agree, less when they disagree. 0 for no votes.
pub fn bias(votes: &[f32]) -> f32 {
    if votes.is_empty() {
        return 0.0;
    }
    let n = votes.len() as f64;
    let mean = votes.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = votes
        .iter()
        .map(|&v| (v as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    (mean / (1.0 + var.sqrt())) as f32
}

/// The median of `v` (mean of the two middle values for an even count); 0 when empty.
pub fn median(v: &mut [f32]) -> f32 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bias_by_hand() {
        assert_eq!(bias(&[]), 0.0);
        assert_eq!(bias(&[1.0, 1.0, 1.0]), 1.0);
        assert_eq!(bias(&[0.8, 0.8]), 0.8);
        // mean 0.5, std 0.5 -> 0.5 / 1.5
        assert!((bias(&[0.0, 1.0]) - 1.0 / 3.0).abs() < 1e-6);
        // one inflated vote among four zeros: mean 0.2, std 0.4 -> 0.2 / 1.4
        assert!((bias(&[0.0, 0.0, 0.0, 0.0, 1.0]) - 0.2 / 1.4).abs() < 1e-6);
    }

    #[test]
    fn median_by_hand() {
        assert_eq!(median(&mut []), 0.0);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
    }
}

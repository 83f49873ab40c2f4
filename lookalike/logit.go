package lookalike

import "math"

// Logit is the trained click logit of a score, a·score + c: the log-odds,
// under the training's negative-sampling ratio (one positive per
// Config.Negatives random non-clickers), that the user clicks the item.
// Probability is its sigmoid.
func (m *Model) Logit(score float32) float32 { return m.a*score + m.c }

// ScoreOfLogit is the inverse of Logit: the score whose logit is z. It puts
// a logit of another model trained at the same negative-sampling ratio (the
// attribute cold-start model, lookalike/coldstart) on this model's score
// scale, preserving the order of logits. It is NaN if the trained scale a
// is not positive (the score would then not order clicks).
func (m *Model) ScoreOfLogit(z float32) float32 {
	if !(m.a > 0) {
		return float32(math.NaN())
	}
	return (z - m.c) / m.a
}

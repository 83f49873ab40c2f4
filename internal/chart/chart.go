// Package chart holds what ralm's PNG charts share: a palette of distinct
// colours, a legend drawn beside the plot (never over the data) and the
// atomic PNG write.
package chart

import (
	"context"
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/ralmlab/ralm/internal/atomicfile"
)

// palette is the Okabe–Ito colour-blind-safe palette, ordered so that
// the first and the sixth series (in an evaluation: the activity baseline
// and ralm) and neighbouring series never get similar hues.
var palette = [...]color.RGBA{
	{0x00, 0x72, 0xB2, 0xFF}, // blue
	{0xE6, 0x9F, 0x00, 0xFF}, // orange
	{0x00, 0x9E, 0x73, 0xFF}, // bluish green
	{0xCC, 0x79, 0xA7, 0xFF}, // reddish purple
	{0x56, 0xB4, 0xE9, 0xFF}, // sky blue
	{0xD5, 0x5E, 0x00, 0xFF}, // vermillion
	{0xF0, 0xE4, 0x42, 0xFF}, // yellow
	{0x00, 0x00, 0x00, 0xFF}, // black
}

// Color returns the i-th series colour (cycling after eight).
func Color(i int) color.Color { return palette[i%len(palette)] }

// SavePNG draws p at w×h with legend (if it has entries) in a strip on the
// right of the plot, and writes it to path atomically.
func SavePNG(ctx context.Context, p *plot.Plot, legend *plot.Legend, w, h vg.Length, path string) error {
	img := vgimg.New(w, h)
	dc := draw.New(img)
	plotArea := dc
	if legend != nil {
		lw := legend.Rectangle(dc).Size().X + 12
		plotArea = draw.Crop(dc, 0, -lw, 0, 0)
		legend.Top, legend.Left = true, true
		legend.YOffs = -p.Title.TextStyle.Height(p.Title.Text) - 12
		legend.Draw(draw.Crop(dc, w-lw+6, 0, 0, 0))
	}
	p.Draw(plotArea)
	return writePNG(ctx, img, path)
}

// SaveGrid draws the plots as a grid (rows of equal length) at w×h and
// writes it to path atomically.
func SaveGrid(ctx context.Context, rows [][]*plot.Plot, w, h vg.Length, path string) error {
	if len(rows) == 0 || len(rows[0]) == 0 {
		return fmt.Errorf("write chart %s: no plot", path)
	}
	img := vgimg.New(w, h)
	dc := draw.New(img)
	t := draw.Tiles{Rows: len(rows), Cols: len(rows[0]), PadX: vg.Millimeter * 4, PadY: vg.Millimeter * 4,
		PadTop: vg.Millimeter * 2, PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align(rows, t, dc)
	for i, row := range rows {
		for j, p := range row {
			if p != nil {
				p.Draw(canvases[i][j])
			}
		}
	}
	return writePNG(ctx, img, path)
}

func writePNG(ctx context.Context, img *vgimg.Canvas, path string) error {
	err := atomicfile.Write(ctx, path, func(f *os.File) error {
		_, err := vgimg.PngCanvas{Canvas: img}.WriteTo(f)
		return err
	})
	if err != nil {
		return fmt.Errorf("write chart %s: %w", path, err)
	}
	return nil
}

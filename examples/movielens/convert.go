package main

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ralmlab/ralm/data"
)

// movieLens is the raw MovieLens-100K data set converted to ralm's tables.
type movieLens struct {
	Clicks *data.Clicks // every rating is a click
	Users  *data.Table  // age (float), gender, occupation, zip1 (first zip character)
	Items  *data.Table  // genres (list<string>), and with year the release year (string)
}

// loadMovieLens reads u.data, u.user, u.item and u.genre from dir; with
// year the items table also has the release year.
func loadMovieLens(dir string, year bool) (*movieLens, error) {
	genres, err := readGenres(filepath.Join(dir, "u.genre"))
	if err != nil {
		return nil, err
	}
	ml := &movieLens{}
	if ml.Clicks, err = readRatings(filepath.Join(dir, "u.data")); err != nil {
		return nil, err
	}
	if ml.Users, err = readUsers(filepath.Join(dir, "u.user")); err != nil {
		return nil, err
	}
	if ml.Items, err = readItems(filepath.Join(dir, "u.item"), genres, year); err != nil {
		return nil, err
	}
	return ml, nil
}

// eachLine calls fn with the fields of every non-empty line of path.
func eachLine(path, sep string, fn func(row int, fields []string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read movielens: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	row := 0
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if line == "" {
			continue
		}
		row++
		if err := fn(row, strings.Split(line, sep)); err != nil {
			return fmt.Errorf("read movielens %s line %d: %w", path, row, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read movielens %s: %w", path, err)
	}
	return nil
}

func readGenres(path string) ([]string, error) {
	var names []string
	err := eachLine(path, "|", func(_ int, f []string) error {
		if len(f) != 2 {
			return fmt.Errorf("want 2 fields, got %d", len(f))
		}
		i, err := strconv.Atoi(f[1])
		if err != nil || i != len(names) {
			return fmt.Errorf("genre index %q out of order", f[1])
		}
		names = append(names, f[0])
		return nil
	})
	return names, err
}

func readRatings(path string) (*data.Clicks, error) {
	c := &data.Clicks{Users: data.NewVocab(data.IDInt64), Items: data.NewVocab(data.IDInt64)}
	err := eachLine(path, "\t", func(_ int, f []string) error {
		if len(f) != 4 {
			return fmt.Errorf("want 4 tab-separated fields, got %d", len(f))
		}
		ts, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return fmt.Errorf("timestamp: %w", err)
		}
		u, err := c.Users.Add(f[0])
		if err != nil {
			return fmt.Errorf("user_id: %w", err)
		}
		it, err := c.Items.Add(f[1])
		if err != nil {
			return fmt.Errorf("item_id: %w", err)
		}
		c.User = append(c.User, u)
		c.Item = append(c.Item, it)
		c.TS = append(c.TS, ts*1e9)
		return nil
	})
	return c, err
}

// categorical appends one value (or none, for "") to a categorical column.
func categorical(col *data.Column, value string) {
	if value != "" {
		col.Codes = append(col.Codes, col.Values.MustAdd(value))
	}
	col.Offsets = append(col.Offsets, int32(len(col.Codes)))
}

func readUsers(path string) (*data.Table, error) {
	t := &data.Table{Keys: data.NewVocab(data.IDInt64)}
	age := data.Column{Name: "age", Kind: data.ColumnContinuous}
	cats := []data.Column{
		{Name: "gender", Kind: data.ColumnCategorical, Values: data.NewVocab(data.IDString), Offsets: []int32{0}},
		{Name: "occupation", Kind: data.ColumnCategorical, Values: data.NewVocab(data.IDString), Offsets: []int32{0}},
		{Name: "zip1", Kind: data.ColumnCategorical, Values: data.NewVocab(data.IDString), Offsets: []int32{0}},
	}
	err := eachLine(path, "|", func(_ int, f []string) error {
		if len(f) != 5 {
			return fmt.Errorf("want 5 fields, got %d", len(f))
		}
		a, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			a = math.NaN()
		}
		if _, err := t.Keys.Add(f[0]); err != nil {
			return fmt.Errorf("id: %w", err)
		}
		age.Floats = append(age.Floats, a)
		categorical(&cats[0], f[2])
		categorical(&cats[1], f[3])
		categorical(&cats[2], f[4][:min(1, len(f[4]))])
		return nil
	})
	t.Columns = append([]data.Column{age}, cats...)
	return t, err
}

func readItems(path string, genres []string, year bool) (*data.Table, error) {
	t := &data.Table{Keys: data.NewVocab(data.IDInt64)}
	col := data.Column{Name: "genres", Kind: data.ColumnMulti, Values: data.NewVocab(data.IDString), Offsets: []int32{0}}
	years := data.Column{Name: "year", Kind: data.ColumnCategorical, Values: data.NewVocab(data.IDString), Offsets: []int32{0}}
	err := eachLine(path, "|", func(_ int, f []string) error {
		if len(f) != 5+len(genres) {
			return fmt.Errorf("want %d fields, got %d", 5+len(genres), len(f))
		}
		if _, err := t.Keys.Add(f[0]); err != nil {
			return fmt.Errorf("id: %w", err)
		}
		for g, flag := range f[5:] {
			if flag == "1" {
				col.Codes = append(col.Codes, col.Values.MustAdd(genres[g]))
			}
		}
		col.Offsets = append(col.Offsets, int32(len(col.Codes)))
		categorical(&years, f[2][max(0, len(f[2])-4):]) // "01-Jan-1995": the year; "" when unknown
		return nil
	})
	t.Columns = []data.Column{col}
	if year {
		t.Columns = append(t.Columns, years)
	}
	return t, err
}

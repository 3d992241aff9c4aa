package console

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// What an offline PIN search of a grace copy costs (BENCHMARKS.md,
// "Offline PIN guessing"): one guess is PBKDF2-SHA256 with the app's
// iterations. pinGuessesPerCore is BenchmarkPBKDF2PIN's rate on one core
// of a busy shared machine (the fastest of seven runs: 105 ms a guess),
// rounded: an idle core is faster, so the words give it as a least rate;
// laptopCores is a laptop's cores, each of which searches on its own.
const (
	pinIterations     = 600000
	pinGuessesPerCore = 10
	laptopCores       = 8
	pinSpace          = 1000000 // every 6-digit PIN, the shortest the app takes
)

// graceCost says in plain words what the offline_grace setting d means
// for a copied browser profile, with max the policy's pin_max_attempts.
func graceCost(d time.Duration, max int) string {
	if d <= 0 {
		return fmt.Sprintf("Offline unlock is off: a device opens its history only with the server, which checks the PIN and erases the device after %d wrong PINs. A copied browser profile cannot be searched for the PIN.", max)
	}
	rate := pinGuessesPerCore * laptopCores
	hours := float64(pinSpace) / float64(rate) / 3600
	return fmt.Sprintf("Offline unlock is on for %s. For that long after each unlock, a copied browser profile could be searched for the PIN offline, without the server counting: at least %d guesses per second on a laptop (%d cores), so all 6-digit PINs in at most about %s, and a graphics card is faster still. A longer PIN makes the search longer; 0 turns offline unlock off.",
		spell(d), rate, laptopCores, aboutHours(hours))
}

// spell writes a duration in days, hours and minutes ("3 days", "1 hour 30 minutes").
func spell(d time.Duration) string {
	var parts []string
	unit := func(n int64, one string) {
		if n == 1 {
			parts = append(parts, "1 "+one)
		} else if n > 1 {
			parts = append(parts, fmt.Sprintf("%d %ss", n, one))
		}
	}
	m := int64(d.Round(time.Minute) / time.Minute)
	unit(m/(24*60), "day")
	unit(m/60%24, "hour")
	unit(m%60, "minute")
	if len(parts) == 0 {
		return "less than a minute"
	}
	return strings.Join(parts, " ")
}

func aboutHours(h float64) string {
	if h < 1 {
		return fmt.Sprintf("%d minutes", int(math.Max(1, math.Round(h*60))))
	}
	if h < 1.5 {
		return "an hour"
	}
	return fmt.Sprintf("%d hours", int(math.Round(h)))
}

//! Cron schedules as a Kubernetes CronJob reads them (five fields or a macro, in an IANA
//! time zone), evaluated by a pure function so the local driver fires snapshots at the
//! same moments the CronJob would.

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// Why a schedule or a time zone was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("schedule {schedule:?}: {reason}")]
    Cron { schedule: String, reason: String },
    #[error("unknown time zone {0:?}")]
    TimeZone(String),
}

/// A parsed five-field schedule: the allowed values of each field as bit sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cron {
    minutes: u64,
    hours: u64,
    days_of_month: u64,
    months: u64,
    /// Sunday is 0 (7 is accepted for it too).
    days_of_week: u64,
    /// Whether day-of-month and day-of-week were each restricted (not `*`): when both
    /// are, a day matching either one fires, as in every cron since Vixie's.
    dom_restricted: bool,
    dow_restricted: bool,
}

const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

/// How far ahead a schedule is searched; a schedule that never fires (`0 0 30 2 *`)
/// has no next time.
const SEARCH_YEARS: i16 = 5;

impl Cron {
    pub fn parse(text: &str) -> Result<Cron, ScheduleError> {
        let fail = |reason: String| ScheduleError::Cron { schedule: text.to_string(), reason };
        let expanded = match text.trim() {
            "@yearly" | "@annually" => "0 0 1 1 *",
            "@monthly" => "0 0 1 * *",
            "@weekly" => "0 0 * * 0",
            "@daily" | "@midnight" => "0 0 * * *",
            "@hourly" => "0 * * * *",
            other if other.starts_with('@') => return Err(fail(format!("unknown macro {other}"))),
            other => other,
        };
        let fields: Vec<&str> = expanded.split_whitespace().collect();
        let [minute, hour, dom, month, dow] = fields.as_slice() else {
            return Err(fail(format!("expected five fields (minute hour day-of-month month day-of-week), found {}", fields.len())));
        };
        let days_of_week = field(dow, 0, 7, &DAYS).map_err(&fail)?;
        // 7 is another name for Sunday.
        let days_of_week = (days_of_week & 0x7f) | ((days_of_week >> 7) & 1);
        Ok(Cron {
            minutes: field(minute, 0, 59, &[]).map_err(&fail)?,
            hours: field(hour, 0, 23, &[]).map_err(&fail)?,
            days_of_month: field(dom, 1, 31, &[]).map_err(&fail)?,
            months: field(month, 1, 12, &MONTHS).map_err(&fail)?,
            days_of_week,
            dom_restricted: !is_star(dom),
            dow_restricted: !is_star(dow),
        })
    }

    fn day_matches(&self, d: Date) -> bool {
        let dom = bit(self.days_of_month, d.day().unsigned_abs().into());
        let dow = bit(self.days_of_week, d.weekday().to_sunday_zero_offset().unsigned_abs().into());
        if self.dom_restricted && self.dow_restricted { dom || dow } else { dom && dow }
    }

    /// The first moment strictly after `after` at which the schedule fires in `tz`.
    /// Local times skipped by a daylight-saving jump fire just after it; repeated local
    /// times fire once, at their first occurrence.
    pub fn next_after(&self, after: Timestamp, tz: &TimeZone) -> Option<Timestamp> {
        let start = after.to_zoned(tz.clone()).datetime();
        let mut t = start.with().second(0).subsec_nanosecond(0).build().ok()?.checked_add(1_i32.minute()).ok()?;
        let limit = start.checked_add(i64::from(SEARCH_YEARS).years()).ok()?;
        while t < limit {
            if !bit(self.months, t.month().unsigned_abs().into()) {
                t = first_of_next_month(t.date())?;
                continue;
            }
            if !self.day_matches(t.date()) {
                t = t.date().tomorrow().ok()?.to_datetime(Time::midnight());
                continue;
            }
            if !bit(self.hours, t.hour().unsigned_abs().into()) {
                t = t.with().minute(0).build().ok()?.checked_add(1_i32.hour()).ok()?;
                continue;
            }
            if !bit(self.minutes, t.minute().unsigned_abs().into()) {
                t = t.checked_add(1_i32.minute()).ok()?;
                continue;
            }
            let at = tz.to_ambiguous_zoned(t).compatible().ok()?.timestamp();
            if at > after {
                return Some(at);
            }
            t = t.checked_add(1_i32.minute()).ok()?;
        }
        None
    }
}

/// `UTC` when unset, else an IANA zone from the system's database.
pub fn time_zone(name: Option<&str>) -> Result<TimeZone, ScheduleError> {
    match name {
        None => Ok(TimeZone::UTC),
        Some(n) => TimeZone::get(n).map_err(|_| ScheduleError::TimeZone(n.to_string())),
    }
}

fn first_of_next_month(d: Date) -> Option<DateTime> {
    let first = d.first_of_month().checked_add(1_i32.month()).ok()?;
    Some(first.to_datetime(Time::midnight()))
}

fn bit(set: u64, n: u64) -> bool {
    n < 64 && set & (1 << n) != 0
}

fn is_star(f: &str) -> bool {
    f.starts_with('*') || f.starts_with('?')
}

/// One field: comma-separated `*`, `?`, `N`, `A-B`, each optionally `/STEP`; `N/STEP`
/// runs from N to the field's maximum.
fn field(text: &str, min: u64, max: u64, names: &[&str]) -> Result<u64, String> {
    let mut set = 0u64;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s.parse::<u64>().ok().filter(|s| *s > 0).ok_or_else(|| format!("bad step in {part:?}"))?)),
            None => (part, None),
        };
        let (lo, hi) = if range == "*" || range == "?" {
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a, min, max, names)?, value(b, min, max, names)?)
        } else {
            let v = value(range, min, max, names)?;
            (v, if step.is_some() { max } else { v })
        };
        if lo > hi {
            return Err(format!("empty range {part:?}"));
        }
        let step = step.unwrap_or(1);
        let mut v = lo;
        while v <= hi {
            set |= 1 << v;
            v += step;
        }
    }
    Ok(set)
}

fn value(text: &str, min: u64, max: u64, names: &[&str]) -> Result<u64, String> {
    let lower = text.to_ascii_lowercase();
    let by_name = names.iter().position(|n| *n == lower).map(|i| i as u64 + if names.len() == 12 { 1 } else { 0 });
    let v = by_name.or_else(|| text.parse::<u64>().ok()).ok_or_else(|| format!("{text:?} is not a number"))?;
    if v < min || v > max {
        return Err(format!("{v} is out of range {min}-{max}"));
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn next(schedule: &str, tz: &str, after: &str) -> Option<String> {
        let tz = time_zone(Some(tz)).unwrap();
        Cron::parse(schedule).unwrap().next_after(ts(after), &tz).map(|t| t.to_string())
    }

    #[test]
    fn fires_at_the_next_matching_minute() {
        let cases = [
            ("* * * * *", "UTC", "2026-11-27T21:14:41Z", "2026-11-27T21:15:00Z"),
            ("* * * * *", "UTC", "2026-11-27T21:15:00Z", "2026-11-27T21:16:00Z"),
            ("0 5 * * *", "UTC", "2026-11-27T05:00:00Z", "2026-11-28T05:00:00Z"),
            ("0 5 * * *", "UTC", "2026-11-27T04:59:59Z", "2026-11-27T05:00:00Z"),
            ("*/15 * * * *", "UTC", "2026-11-27T21:14:41Z", "2026-11-27T21:15:00Z"),
            ("5/20 * * * *", "UTC", "2026-11-27T21:26:00Z", "2026-11-27T21:45:00Z"),
            ("0 9-17/4 * * *", "UTC", "2026-11-27T13:30:00Z", "2026-11-27T17:00:00Z"),
            ("30 2 * * mon-fri", "UTC", "2026-11-27T03:00:00Z", "2026-11-30T02:30:00Z"),
            ("0 0 1 jan *", "UTC", "2026-11-27T03:00:00Z", "2027-01-01T00:00:00Z"),
            ("@hourly", "UTC", "2026-11-27T21:14:41Z", "2026-11-27T22:00:00Z"),
            ("@weekly", "UTC", "2026-11-27T21:14:41Z", "2026-11-29T00:00:00Z"),
            ("0 0 * * 7", "UTC", "2026-11-27T21:14:41Z", "2026-11-29T00:00:00Z"),
            ("@monthly", "UTC", "2026-12-15T00:00:00Z", "2027-01-01T00:00:00Z"),
            ("0 0 29 2 *", "UTC", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00Z"),
            // Day-of-month and day-of-week both restricted: either one fires (the 1st, or a Sunday).
            ("0 0 1 * sun", "UTC", "2026-11-27T00:00:00Z", "2026-11-29T00:00:00Z"),
            ("0 0 1 * sun", "UTC", "2026-11-29T00:00:00Z", "2026-12-01T00:00:00Z"),
            // Only day-of-week restricted: the 1st does not fire on its own.
            ("0 0 * * sun", "UTC", "2026-11-29T00:00:00Z", "2026-12-06T00:00:00Z"),
        ];
        for (schedule, tz, after, want) in cases {
            assert_eq!(next(schedule, tz, after).as_deref(), Some(want), "{schedule} after {after}");
        }
    }

    #[test]
    fn evaluates_in_the_time_zone_across_daylight_saving() {
        // 05:00 in Paris is 04:00Z in winter, 03:00Z in summer.
        assert_eq!(next("0 5 * * *", "Europe/Paris", "2026-11-27T12:00:00Z").as_deref(), Some("2026-11-28T04:00:00Z"));
        assert_eq!(next("0 5 * * *", "Europe/Paris", "2026-07-01T12:00:00Z").as_deref(), Some("2026-07-02T03:00:00Z"));
        // 02:30 does not exist on 2026-03-29 in Paris (02:00 -> 03:00): it fires just after the jump.
        assert_eq!(next("30 2 * * *", "Europe/Paris", "2026-03-28T12:00:00Z").as_deref(), Some("2026-03-29T01:30:00Z"));
        // 02:30 happens twice on 2026-10-25 (03:00 -> 02:00): it fires once, the first time.
        let first = next("30 2 * * *", "Europe/Paris", "2026-10-24T12:00:00Z").unwrap();
        assert_eq!(first, "2026-10-25T00:30:00Z");
        assert_eq!(next("30 2 * * *", "Europe/Paris", &first).as_deref(), Some("2026-10-26T01:30:00Z"));
        assert_eq!(next("0 0 * * *", "America/New_York", "2026-11-27T12:00:00Z").as_deref(), Some("2026-11-28T05:00:00Z"));
    }

    #[test]
    fn successive_times_are_increasing_and_match() {
        let tz = time_zone(Some("Europe/Paris")).unwrap();
        let cron = Cron::parse("*/7 1-3 * * *").unwrap();
        let mut t = ts("2026-03-27T00:00:00Z");
        for _ in 0..200 {
            let n = cron.next_after(t, &tz).unwrap();
            assert!(n > t);
            let local = n.to_zoned(tz.clone());
            assert_eq!(local.minute() % 7, 0, "{local}");
            t = n;
        }
    }

    #[test]
    fn refuses_what_a_cronjob_refuses() {
        for bad in [
            "",
            "* * * *",
            "* * * * * *",
            "60 * * * *",
            "* 24 * * *",
            "* * 0 * *",
            "* * * 13 *",
            "* * * * 8",
            "*/0 * * * *",
            "5-1 * * * *",
            "@every 5m",
            "x * * * *",
        ] {
            assert!(Cron::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert!(time_zone(Some("Mars/Olympus_Mons")).is_err());
        assert_eq!(time_zone(None).unwrap(), TimeZone::UTC);
    }

    #[test]
    fn a_schedule_that_never_fires_has_no_next_time() {
        assert_eq!(next("0 0 30 2 *", "UTC", "2026-11-27T00:00:00Z"), None);
    }
}

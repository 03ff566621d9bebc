//! MySQL/MariaDB spatial values as WKT. The server sends its internal form: a 4-byte SRID and
//! then the geometry as WKB. WKT (what `ST_AsText` prints, MariaDB's spelling) is readable in a
//! document and parses as a `geo_shape` in Elasticsearch, where the raw bytes would be base64
//! noise; Elastic's connector writes the bytes decoded as UTF-8 with errors ignored, which
//! loses them.

/// The WKT of a MySQL geometry value, or `None` when it is not a shape this reader knows.
pub(super) fn mysql_wkt(value: &[u8]) -> Option<String> {
    let mut r = Reader {
        data: value.get(4..)?,
        little: true,
    };
    let wkt = r.geometry(0)?;
    r.data.is_empty().then_some(wkt)
}

struct Reader<'a> {
    data: &'a [u8],
    little: bool,
}

impl Reader<'_> {
    fn take<const N: usize>(&mut self) -> Option<[u8; N]> {
        let head = self.data.get(..N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(head);
        self.data = &self.data[N..];
        Some(a)
    }
    fn u32(&mut self) -> Option<u32> {
        let b = self.take::<4>()?;
        Some(if self.little {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
    fn f64(&mut self) -> Option<f64> {
        let b = self.take::<8>()?;
        Some(if self.little {
            f64::from_le_bytes(b)
        } else {
            f64::from_be_bytes(b)
        })
    }
    /// A count, bounded by what the remaining bytes can hold (a hostile count must not make
    /// the host allocate).
    fn count(&mut self, min_item: usize) -> Option<usize> {
        let n = usize::try_from(self.u32()?).ok()?;
        (n.checked_mul(min_item)? <= self.data.len()).then_some(n)
    }
    fn coords(&mut self) -> Option<String> {
        Some(format!("{} {}", self.f64()?, self.f64()?))
    }
    fn points(&mut self) -> Option<String> {
        let n = self.count(16)?;
        let pts: Option<Vec<String>> = (0..n).map(|_| self.coords()).collect();
        Some(format!("({})", pts?.join(",")))
    }
    fn rings(&mut self) -> Option<String> {
        let n = self.count(4)?;
        let rings: Option<Vec<String>> = (0..n).map(|_| self.points()).collect();
        Some(format!("({})", rings?.join(",")))
    }
    /// One WKB geometry (byte order, type, body); `depth` bounds nested collections.
    fn geometry(&mut self, depth: usize) -> Option<String> {
        if depth > 32 {
            return None;
        }
        self.little = self.take::<1>()?[0] == 1;
        let kind = self.u32()?;
        Some(match kind {
            1 => format!("POINT({})", self.coords()?),
            2 => format!("LINESTRING{}", self.points()?),
            3 => format!("POLYGON{}", self.rings()?),
            4..=7 => {
                let n = self.count(5)?;
                let mut parts = Vec::with_capacity(n);
                for _ in 0..n {
                    let inner = self.geometry(depth + 1)?;
                    // Members of a multi-geometry print without their own type name.
                    parts.push(if kind == 7 {
                        inner
                    } else {
                        inner
                            .trim_start_matches(char::is_alphabetic)
                            .trim_start_matches('(')
                            .strip_suffix(')')
                            .map(str::to_owned)
                            .unwrap_or(inner)
                    });
                }
                let name = match kind {
                    4 => "MULTIPOINT",
                    5 => "MULTILINESTRING",
                    6 => "MULTIPOLYGON",
                    _ => "GEOMETRYCOLLECTION",
                };
                let body = parts.join(",");
                match kind {
                    4 | 7 => format!("{name}({body})"),
                    _ => format!(
                        "{name}(({}))",
                        body.trim_start_matches('(').trim_end_matches(')')
                    ),
                }
            }
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(x: f64, y: f64) -> Vec<u8> {
        let mut v = vec![1];
        v.extend(1u32.to_le_bytes());
        v.extend(x.to_le_bytes());
        v.extend(y.to_le_bytes());
        v
    }

    #[test]
    fn points_lines_and_collections() {
        let mut p = 0u32.to_le_bytes().to_vec();
        p.extend(point(1.0, 2.5));
        assert_eq!(mysql_wkt(&p).as_deref(), Some("POINT(1 2.5)"));
        let mut l = 0u32.to_le_bytes().to_vec();
        l.push(1);
        l.extend(2u32.to_le_bytes());
        l.extend(2u32.to_le_bytes());
        for c in [0.0f64, 0.0, 1.0, 1.0] {
            l.extend(c.to_le_bytes());
        }
        assert_eq!(mysql_wkt(&l).as_deref(), Some("LINESTRING(0 0,1 1)"));
        let mut m = 0u32.to_le_bytes().to_vec();
        m.push(1);
        m.extend(4u32.to_le_bytes());
        m.extend(2u32.to_le_bytes());
        m.extend(point(1.0, 1.0));
        m.extend(point(2.0, 2.0));
        assert_eq!(mysql_wkt(&m).as_deref(), Some("MULTIPOINT(1 1,2 2)"));
        assert_eq!(mysql_wkt(&[0, 0, 0, 0, 1, 9, 0, 0, 0]), None);
        assert_eq!(mysql_wkt(&[0, 0]), None);
    }
}

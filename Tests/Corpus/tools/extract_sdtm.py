#!/usr/bin/env python3
"""Extract the first 8 subjects of each SDTM domain into Tests/Corpus/sdtm/<source>/<domain>.csv.

One-off helper (NOT run by the tests). Needs: pip install pyreadstat rdata, and bare git
mirrors of phuse-org/phuse-scripts and pharmaverse/pharmaversesdtm (paths below).
Values are written as text exactly as stored; SAS/R numerics as %.15g (integers without
".0"), missing values as empty fields.
"""
import csv, io, os, subprocess, sys, zipfile
from decimal import Decimal

OUT = sys.argv[1] if len(sys.argv) > 1 else 'Tests/Corpus/sdtm'
PHUSE = '/work/.mirror/phuse-org+phuse-scripts/repo'
PHARMA = '/work/.mirror/pharmaverse+pharmaversesdtm/repo'
N = 8

def blob(gitdir, path):
    return subprocess.check_output(['git', '--git-dir=' + gitdir, 'show', 'HEAD:' + path])

def fmt(v):
    if v is None:
        return ''
    if isinstance(v, str):
        return v
    try:
        import math
        if isinstance(v, float) and math.isnan(v):
            return ''
    except TypeError:
        pass
    if isinstance(v, (int, float)):
        s = '%.15g' % v
        if 'e' in s or 'E' in s:
            s = format(Decimal(s), 'f')
        if s == '-0':
            s = '0'
        return s
    s = str(v)
    return '' if s in ('<NA>', 'nan', 'None') else s

def first_subjects(values):
    seen = []
    for u in values:
        if u not in seen:
            seen.append(u)
            if len(seen) == N:
                break
    return set(seen)

def write_frame(df, path):
    import pandas as pd
    cols = [str(c) for c in df.columns]
    df.columns = cols
    keep = first_subjects(list(df['USUBJID']))
    sub = df[df['USUBJID'].isin(keep)]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w', newline='', encoding='utf-8') as f:
        w = csv.writer(f, lineterminator='\n')
        w.writerow(cols)
        for rec in sub.itertuples(index=False):
            row = []
            for v in rec:
                if v is pd.NA or v is None:
                    row.append('')
                else:
                    row.append(fmt(v.item() if hasattr(v, 'item') else v))
            for x in row:
                assert '\n' not in x and '\r' not in x, (path, x)
            w.writerow(row)
    print(path, len(sub), 'rows', sorted(keep))

def xpt(data):
    import pyreadstat, tempfile
    with tempfile.NamedTemporaryFile(suffix='.xpt') as t:
        t.write(data); t.flush()
        df, _ = pyreadstat.read_xport(t.name, disable_datetime_conversion=True)
    return df

def rda(data, name):
    import rdata, tempfile, warnings
    warnings.simplefilter('ignore')
    with tempfile.NamedTemporaryFile(suffix='.rda') as t:
        t.write(data); t.flush()
        return rdata.read_rda(t.name)[name]

def copy_csv_lines(data, path):
    """Statin CSVs are already published as CSV: copy header + the selected physical lines verbatim."""
    text = data.decode('utf-8')
    lines = text.splitlines(keepends=True)
    rdr = csv.reader(io.StringIO(text))
    header = next(rdr)
    ui = header.index('USUBJID')
    rows = list(rdr)
    assert len(rows) == len(lines) - 1, 'embedded newlines'
    keep = first_subjects([r[ui] for r in rows])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    n = 0
    with open(path, 'w', newline='', encoding='utf-8') as f:
        f.write(lines[0])
        for line, r in zip(lines[1:], rows):
            if r[ui] in keep:
                f.write(line); n += 1
    print(path, n, 'rows', sorted(keep))

# 1. cdiscpilot01: AE/EX/DS original CDISC pilot XPT (phuse-scripts data/sdtm/cdiscpilot01,
#    byte-identical to cdisc-org/sdtm-adam-pilot-project); LB/VS from pharmaversesdtm .rda
#    (the original lb.xpt / vs.xpt are >= 4 MiB and not in the snapshot).
for d in ['ae', 'ex', 'ds']:
    write_frame(xpt(blob(PHUSE, 'data/sdtm/cdiscpilot01/%s.xpt' % d)), f'{OUT}/cdiscpilot01/{d}.csv')
for d in ['lb', 'vs']:
    write_frame(rda(blob(PHARMA, 'data/%s.rda' % d), d), f'{OUT}/cdiscpilot01/{d}.csv')

# 2. PhUSE "SDTM - Statin Test Data v0" (CSV as published).
for d in ['lb', 'ae', 'ex', 'ds']:
    copy_csv_lines(blob(PHUSE, 'data/Tabulations/SDTM - Statin Test Data v0/%s.csv' % d), f'{OUT}/phuse-statin-v0/{d}.csv')

# 3. PhUSE TDF update 2 of CDISCPILOT01 (SDTMIG 3.2), from data/sdtm/cdiscpilot_update2.zip.
if os.environ.get('WITH_TDF'):
    import pandas as pd
    z = zipfile.ZipFile(io.BytesIO(blob(PHUSE, 'data/sdtm/cdiscpilot_update2.zip')))
    for d in ['ae', 'ex', 'ds', 'vs']:
        write_frame(xpt(z.read('SDTM/%s.xpt' % d)), f'{OUT}/cdiscpilot01-tdf2/{d}.csv')
    lb = pd.concat([xpt(z.read('SDTM/%s.xpt' % n)) for n in ['lbch', 'lbhe', 'lbur']], ignore_index=True)
    write_frame(lb, f'{OUT}/cdiscpilot01-tdf2/lb.csv')

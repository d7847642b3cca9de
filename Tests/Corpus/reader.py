#!/usr/bin/env python3
"""Independent reader for the Vigil real-world test corpus.

Reads every corpus file under Tests/Corpus/sdtm and Tests/Corpus/hl7 and writes the values
Vigil must read to Tests/Corpus/expected/<source-id>/<file name>.expected.json, plus
Tests/Corpus/expected/summary.json.

Python 3 standard library only. It shares no code, tables or logic with Vigil: the mappings
and unit factors below were written from the corpus brief (see README.md), not copied.

Usage:  python3 Tests/Corpus/reader.py          (re-writes expected/)
        python3 Tests/Corpus/reader.py --check  (exit 1 if expected/ would change)
"""
import csv
import json
import os
import re
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
SDTM_DIR = os.path.join(ROOT, 'sdtm')
HL7_DIR = os.path.join(ROOT, 'hl7')
EXPECTED_DIR = os.path.join(ROOT, 'expected')

# ---------------------------------------------------------------------------------------------
# Monitored codes and their canonical units
# ---------------------------------------------------------------------------------------------
CANONICAL = {
    'respiratory_rate': '/min', 'heart_rate': '/min', 'spo2': '%', 'fio2': 'fraction',
    'systolic_bp': 'mmHg', 'diastolic_bp': 'mmHg', 'mean_arterial_pressure': 'mmHg',
    'pao2': 'mmHg', 'paco2': 'mmHg', 'temperature': '\u00b0C', 'gcs': 'score',
    'wbc': '10^9/L', 'neutrophils': '10^9/L', 'platelets': '10^9/L', 'bands': '%',
    'hemoglobin': 'g/dL', 'bilirubin': '\u00b5mol/L', 'creatinine': '\u00b5mol/L',
    'urea': 'mmol/L', 'urea_nitrogen': 'mmol/L', 'bicarbonate': 'mmol/L', 'glucose': 'mmol/L',
    'lactate': 'mmol/L', 'potassium': 'mmol/L', 'sodium': 'mmol/L', 'alt': 'U/L', 'ast': 'U/L',
    'crp': 'mg/L', 'procalcitonin': '\u00b5g/L',
}

SDTM_TESTCD = {
    'LACTICAC': 'lactate', 'ALT': 'alt', 'AST': 'ast', 'BILI': 'bilirubin', 'CREAT': 'creatinine',
    'PLAT': 'platelets', 'NEUT': 'neutrophils', 'WBC': 'wbc', 'HGB': 'hemoglobin', 'K': 'potassium',
    'SODIUM': 'sodium', 'BICARB': 'bicarbonate', 'CO2': 'bicarbonate', 'GLUC': 'glucose',
    'BUN': 'urea_nitrogen', 'UREAN': 'urea_nitrogen', 'UREA': 'urea', 'CRP': 'crp',
    'SYSBP': 'systolic_bp', 'DIABP': 'diastolic_bp', 'MAP': 'mean_arterial_pressure',
    'PULSE': 'heart_rate', 'HR': 'heart_rate', 'RESP': 'respiratory_rate', 'TEMP': 'temperature',
    'OXYSAT': 'spo2',
}

# LOINC codes (OBX-3 coding system "LN").  Only codes whose meaning is unambiguous for the
# monitored analyte; e.g. glucose-tolerance-challenge codes or morphology codes are NOT here.
LOINC = {
    '2345-7': 'glucose', '2339-0': 'glucose', '41653-7': 'glucose', '14749-6': 'glucose',
    '15074-8': 'glucose',
    '2160-0': 'creatinine', '38483-4': 'creatinine', '14682-9': 'creatinine',
    '718-7': 'hemoglobin', '20509-6': 'hemoglobin',
    '6690-2': 'wbc', '26464-8': 'wbc', '804-5': 'wbc',
    '777-3': 'platelets', '26515-7': 'platelets',
    '751-8': 'neutrophils', '26499-4': 'neutrophils',
    '764-1': 'bands',
    '8867-4': 'heart_rate',
    '8480-6': 'systolic_bp', '8462-4': 'diastolic_bp', '8478-0': 'mean_arterial_pressure',
    '9279-1': 'respiratory_rate',
    '8310-5': 'temperature', '8331-1': 'temperature',
    '59408-5': 'spo2', '2708-6': 'spo2', '20564-1': 'spo2',
    '3150-0': 'fio2', '2703-7': 'pao2', '2019-8': 'paco2', '9269-2': 'gcs',
    '2823-3': 'potassium', '6298-4': 'potassium', '2951-2': 'sodium', '2947-0': 'sodium',
    '1742-6': 'alt', '1920-8': 'ast',
    '1975-2': 'bilirubin', '14631-6': 'bilirubin',
    '3094-0': 'urea_nitrogen', '6299-2': 'urea_nitrogen',
    '2524-7': 'lactate', '32693-4': 'lactate',
    '1963-8': 'bicarbonate', '1959-6': 'bicarbonate', '2028-9': 'bicarbonate',
    '1988-5': 'crp', '30522-7': 'crp', '33959-8': 'procalcitonin',
    # Added with the HL7 sources hl7-v2-to-fhir and ipf (long names as sent in OBX-3 and in LOINC):
    # 59260-0 "Hemoglobin [Moles/volume] in Blood" (same analyte as 718-7) and 22760-3 "Potassium
    # [Mass/volume] in Serum or Plasma" (same analyte as 2823-3). The value is converted by its OBX-6
    # unit (g/L, meq/L in the corpus); a unit the tables do not know gives value null. Left out on
    # purpose: 14937-7 "Urea nitrogen [Moles/volume]" (moles of urea or of nitrogen atoms?) and
    # 76485-2 "C reactive protein [Moles/volume]" (nmol/L; no agreed molar mass for CRP).
    '59260-0': 'hemoglobin', '22760-3': 'potassium',
}

# IEEE 11073 / IHE PCD-01 observation identifiers (OBX-3 coding system "MDC"), by reference id.
MDC = {
    'MDC_PULS_OXIM_SAT_O2': 'spo2', 'MDC_PULS_OXIM_PULS_RATE': 'heart_rate',
    'MDC_ECG_HEART_RATE': 'heart_rate',
    'MDC_PRESS_BLD_NONINV_SYS': 'systolic_bp', 'MDC_PRESS_CUFF_SYS': 'systolic_bp',
    'MDC_PRESS_BLD_NONINV_DIA': 'diastolic_bp', 'MDC_PRESS_CUFF_DIA': 'diastolic_bp',
    'MDC_PRESS_BLD_NONINV_MEAN': 'mean_arterial_pressure',
    'MDC_PRESS_CUFF_MEAN': 'mean_arterial_pressure',
    'MDC_RESP_RATE': 'respiratory_rate', 'MDC_TTHOR_RESP_RATE': 'respiratory_rate',
    # Added with hl7/ipf (ISO/IEEE 11073-10101 terms, checked against NIST's RTMMS export
    # mdccodes.csv in usnistgov/hit-pcd-message-validation): invasive (arterial line) systemic
    # arterial pressure 150033/150034/150035, pulse rate from the invasive pressure 149522 (a
    # pulse rate like MDC_PULS_OXIM_PULS_RATE), capillary whole-blood glucose 160184 (as LOINC
    # 41653-7 above). Pulmonary-artery pressures (MDC_PRESS_BLD_ART_PULM_*) are NOT systemic
    # blood pressure and stay unmapped.
    'MDC_PRESS_BLD_ART_SYS': 'systolic_bp', 'MDC_PRESS_BLD_ART_DIA': 'diastolic_bp',
    'MDC_PRESS_BLD_ART_MEAN': 'mean_arterial_pressure', 'MDC_BLD_PULS_RATE_INV': 'heart_rate',
    'MDC_CONC_GLU_CAPILLARY_WHOLEBLOOD': 'glucose',
}


def mdc_code(refid):
    refid = refid.strip().upper()
    if refid in MDC:
        return MDC[refid]
    if refid.startswith('MDC_TEMP'):
        return 'temperature'
    return None


# ---------------------------------------------------------------------------------------------
# Units: factor to the canonical unit, keyed by a normalised unit text (see norm_unit).
# ---------------------------------------------------------------------------------------------
# A factor is (multiplier, divisor): canonical = value * multiplier / divisor.  Divisors are kept
# separate so that e.g. 105600 cells/uL -> 105600 / 1000 = 105.6 exactly (no 105.60000000000001).
ONE = (1.0, 1.0)
COUNT = {  # -> 10^9/L
    '10^9/l': ONE, '10*9/l': ONE, '10e9/l': ONE, 'x10^9/l': ONE, 'x10e9/l': ONE, 'gi/l': ONE,
    'giga/l': ONE, '/nl': ONE, '10^3/ul': ONE, '10*3/ul': ONE, 'x10^3/ul': ONE, 'x10e3/ul': ONE,
    '10^3/mm3': ONE, '10*3/mm3': ONE, 'thou/ul': ONE, 'k/ul': ONE,
    '/ul': (1.0, 1000.0), '{cells}/ul': (1.0, 1000.0), 'cells/ul': (1.0, 1000.0),
    '/mm3': (1.0, 1000.0),
}
MMOL = {'mmol/l': ONE, 'meq/l': ONE}
RATE = {'/min': ONE, '1/min': ONE, 'min-1': ONE, '/min.': ONE, 'beats/min': ONE,
        'breaths/min': ONE, 'bpm': ONE, '{beats}/min': ONE, '{breaths}/min': ONE,
        '{beat}/min': ONE, '{breath}/min': ONE,
        'mdc_dim_beat_per_min': ONE, 'mdc_dim_resp_per_min': ONE, 'mdc_dim_per_min': ONE}
PRESSURE = {'mmhg': ONE, 'mm[hg]': ONE, 'mdc_dim_mmhg': ONE,
            'kpa': (7.50062, 1.0), 'mdc_dim_kilo_pascal': (7.50062, 1.0)}
UNITS = {
    'wbc': COUNT, 'neutrophils': COUNT, 'platelets': COUNT,
    'bands': {'%': ONE},
    # mmol/L of the Fe-containing monomer: g/dL = mmol/L * 16.1145 / 10
    'hemoglobin': {'g/dl': ONE, 'g/l': (1.0, 10.0), 'mmol/l': (16.1145, 10.0),
                   'g/ml': (100.0, 1.0), 'mg/dl': (1.0, 1000.0)},
    'bilirubin': {'umol/l': ONE, 'mg/dl': (17.1, 1.0), 'mg/l': (1.71, 1.0)},
    'creatinine': {'umol/l': ONE, 'mg/dl': (88.4, 1.0), 'mg/l': (8.84, 1.0),
                   'mmol/l': (1000.0, 1.0)},
    'urea': {'mmol/l': ONE, 'mg/dl': (1.0, 6.006)},
    'urea_nitrogen': {'mmol/l': ONE, 'mg/dl': (0.357, 1.0)},   # BUN mg/dL -> mmol/L of urea
    'glucose': {'mmol/l': ONE, 'mg/dl': (1.0, 18.016),
                'mdc_dim_milli_g_per_dl': (1.0, 18.016)},   # IEEE 11073 unit 264274 = mg/dL
    'lactate': {'mmol/l': ONE, 'meq/l': ONE, 'mg/dl': (1.0, 9.008)},
    'bicarbonate': MMOL, 'potassium': MMOL, 'sodium': MMOL,
    'alt': {'u/l': ONE, 'iu/l': ONE, 'ukat/l': (60.0, 1.0)},
    'ast': {'u/l': ONE, 'iu/l': ONE, 'ukat/l': (60.0, 1.0)},
    'crp': {'mg/l': ONE, 'mg/dl': (10.0, 1.0)},
    'procalcitonin': {'ug/l': ONE, 'ng/ml': ONE},
    'respiratory_rate': RATE, 'heart_rate': RATE,
    'spo2': {'%': ONE, 'mdc_dim_percent': ONE},
    'fio2': {'1': ONE, 'fraction': ONE, '{fraction}': ONE, '%': (1.0, 100.0),
             'mdc_dim_percent': (1.0, 100.0)},
    'systolic_bp': PRESSURE, 'diastolic_bp': PRESSURE, 'mean_arterial_pressure': PRESSURE,
    'pao2': PRESSURE, 'paco2': PRESSURE,
    'gcs': {'': ONE, '{score}': ONE, 'score': ONE},
}
CELSIUS = {'c', '\u00b0c', 'degc', 'deg c', 'cel', 'celsius', 'mdc_dim_degc'}
FAHRENHEIT = {'f', '\u00b0f', 'degf', 'deg f', '[degf]', 'fahrenheit', 'mdc_dim_fahr'}


def norm_unit(u):
    u = u.strip().lower().replace('\u00b5', 'u').replace('\u03bc', 'u')
    return re.sub(r'\s+', ' ', u) if u in ('deg c', 'deg f') else u.replace(' ', '')


def to_canonical(code, value, unit_texts):
    """Return the value in the canonical unit, or None when no unit text is understood.
    unit_texts: candidate unit spellings, in order of preference."""
    for u in unit_texts:
        n = norm_unit(u)
        if code == 'temperature':
            if n in CELSIUS:
                return value
            if n in FAHRENHEIT:
                return (value - 32.0) * 5.0 / 9.0
            continue
        table = UNITS.get(code, {})
        if n in table:
            mul, div = table[n]
            return value * mul / div
    return None


NUM_SDTM = re.compile(r'^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$')
NUM_HL7 = re.compile(r'^[+-]?(\d+(\.\d*)?|\.\d+)$')


def number(text, pattern):
    t = text.strip()
    return float(t) if pattern.match(t) else None


# ---------------------------------------------------------------------------------------------
# SDTM
# ---------------------------------------------------------------------------------------------
def read_csv(path):
    """Yield (physical line number, row dict). Header is line 1."""
    with open(path, newline='', encoding='utf-8') as f:
        rdr = csv.reader(f)
        header = next(rdr)
        for row in rdr:
            yield rdr.line_num, dict(zip(header, row))


def sdtm_findings(path, prefix):
    out, rows = [], 0
    for line, r in read_csv(path):
        rows += 1
        code = SDTM_TESTCD.get(r.get(prefix + 'TESTCD', '').strip())
        if code is None:
            continue
        if r.get(prefix + 'STAT', '').strip().upper() == 'NOT DONE':
            continue
        stresu = r.get(prefix + 'STRESU', '').strip()
        if stresu:
            raw, unit = r.get(prefix + 'STRESN', ''), stresu
        else:
            raw, unit = r.get(prefix + 'ORRES', ''), r.get(prefix + 'ORRESU', '').strip()
        v = number(raw, NUM_SDTM)
        if v is None:
            continue  # no numeric result: not a must-read row
        conv = to_canonical(code, v, [unit])
        out.append({
            'line': line, 'subject': r.get('USUBJID', ''), 'code': code,
            'value': conv, 'unit': CANONICAL[code], 'unit_found': unit,
            'time': r.get(prefix + 'DTC', ''),
        })
    return rows, out


def opt(text):
    text = (text or '').strip()
    return text if text else None


def sdtm_events(path, domain):
    p = domain.upper()
    out, rows = [], 0
    for line, r in read_csv(path):
        rows += 1
        subject, seq = r.get('USUBJID', '').strip(), r.get(p + 'SEQ', '').strip()
        if not subject or not seq:
            continue
        o = {'line': line, 'subject': r['USUBJID'], 'seq': r[p + 'SEQ']}
        if p == 'AE':
            g = (r.get('AETOXGR') or '').strip()
            o.update({
                'term': opt(r.get('AEDECOD')) or r.get('AETERM', ''),
                'onset': r.get('AESTDTC', ''),
                'grade': int(g) if g.isdigit() else None,
                'severity': opt(r.get('AESEV')), 'related': opt(r.get('AEREL')),
                'serious': opt(r.get('AESER')),
            })
        elif p == 'EX':
            o['start'] = r.get('EXSTDTC', '')
        elif p == 'DS':
            o.update({'decod': r.get('DSDECOD', ''), 'category': r.get('DSCAT', ''),
                      'start': r.get('DSSTDTC', '')})
        out.append(o)
    return rows, out


# ---------------------------------------------------------------------------------------------
# HL7 v2
# ---------------------------------------------------------------------------------------------
def decode_bytes(data):
    try:
        return data.decode('utf-8')
    except UnicodeDecodeError:
        return data.decode('latin-1')


class Msg:
    def __init__(self, text):
        text = text.replace('\ufeff', '').replace('\r\n', '\r').replace('\n', '\r')
        self.segments = [s for s in text.split('\r') if s != '']
        msh = self.segments[0]
        assert msh.startswith('MSH'), 'message must start with MSH'
        self.fs = msh[3]
        enc = msh.split(self.fs)[1] if len(msh) > 4 else ''
        self.cs = enc[0] if len(enc) > 0 else '^'
        self.rs = enc[1] if len(enc) > 1 else '~'
        self.esc = enc[2] if len(enc) > 2 else '\\'
        self.ss = enc[3] if len(enc) > 3 else '&'

    def fields(self, seg):
        f = seg.split(self.fs)
        if f[0] == 'MSH':          # MSH-1 is the separator itself: shift so that f[n] == MSH-n
            f = ['MSH', self.fs] + f[1:]
        return f

    def unescape(self, s):
        e = self.esc
        for code, rep in (('F', self.fs), ('S', self.cs), ('T', self.ss), ('R', self.rs)):
            s = s.replace(e + code + e, rep)
        return s.replace(e + 'E' + e, e)

    def comps(self, field):
        first = field.split(self.rs)[0]
        return [self.unescape(c) for c in first.split(self.cs)]


def obx3_code(m, field):
    c = m.comps(field) + [''] * 6
    for ident, text, system in ((c[0], c[1], c[2]), (c[3], c[4], c[5])):
        system = system.strip().upper()
        if system == 'LN' and ident.strip() in LOINC:
            return LOINC[ident.strip()]
        if system == 'MDC':
            code = mdc_code(text)
            if code:
                return code
    return None


def hl7_file(path):
    with open(path, 'rb') as f:
        m = Msg(decode_bytes(f.read()))
    out, subject, obr7 = [], None, None
    obx_total = obx_nm = 0
    unmapped = []
    for idx, seg in enumerate(m.segments, start=1):
        f = m.fields(seg) + [''] * 20
        name = f[0]
        if name == 'PID':
            subject = m.comps(f[3])[0]
        elif name == 'OBR':
            obr7 = f[7]
        elif name == 'OBX':
            obx_total += 1
            # HL7 v2.5 table 0085: I (pending), X (cannot be obtained), N (not asked), O (order
            # detail), D and W (deleted, wrong patient) carry no result to read.
            if f[2].strip() != 'NM' or f[5].strip() == '' or f[11].strip().upper() in ('I', 'X', 'N', 'O', 'D', 'W'):
                continue
            obx_nm += 1
            code = obx3_code(m, f[3])
            if code is None:
                unmapped.append(f[3])
                continue
            raw = m.unescape(f[5].split(m.rs)[0])
            v = number(raw, NUM_HL7)
            ucomps = m.comps(f[6]) if f[6] else ['']
            cands = [ucomps[0]] + ([ucomps[1]] if len(ucomps) > 1 else [])
            cands = [u for u in cands if u.strip() != ''] or ['']
            o = {'segment': idx, 'subject': subject, 'code': code,
                 'value': None if v is None else to_canonical(code, v, cands),
                 'unit': CANONICAL[code], 'unit_found': f[6],
                 'time': f[14] if f[14] != '' else (obr7 if obr7 else None)}
            if v is None:
                o['value_found'] = f[5]
            out.append(o)
    stats = {'segments': len(m.segments), 'obx': obx_total, 'obx_nm_with_value': obx_nm,
             'must_read': len(out), 'unmapped_nm_obx3': unmapped}
    return stats, out


# ---------------------------------------------------------------------------------------------
def build():
    files, summary = {}, {'sdtm': {}, 'hl7': {}}
    for src in sorted(os.listdir(SDTM_DIR)) if os.path.isdir(SDTM_DIR) else []:
        for name in sorted(os.listdir(os.path.join(SDTM_DIR, src))):
            if not name.endswith('.csv'):
                continue
            dom = name[:-4].lower()
            path = os.path.join(SDTM_DIR, src, name)
            if dom in ('lb', 'vs'):
                rows, out = sdtm_findings(path, dom.upper())
            elif dom in ('ae', 'ex', 'ds'):
                rows, out = sdtm_events(path, dom)
            else:
                continue
            files[os.path.join(src, name + '.expected.json')] = out
            summary['sdtm'].setdefault(src, {})[name] = {'rows': rows, 'must_read': len(out)}
    for src in sorted(os.listdir(HL7_DIR)) if os.path.isdir(HL7_DIR) else []:
        for name in sorted(os.listdir(os.path.join(HL7_DIR, src))):
            if not name.endswith('.hl7'):
                continue
            stats, out = hl7_file(os.path.join(HL7_DIR, src, name))
            files[os.path.join(src, name + '.expected.json')] = out
            summary['hl7'].setdefault(src, {})[name] = stats
    files['summary.json'] = summary
    return files


def dump(obj):
    """Lists: one JSON object per line (diff-friendly); summary: indented."""
    if isinstance(obj, list):
        if not obj:
            return '[]\n'
        return '[\n' + ',\n'.join(json.dumps(o, ensure_ascii=False) for o in obj) + '\n]\n'
    return json.dumps(obj, indent=1, ensure_ascii=False) + '\n'


def main():
    check = '--check' in sys.argv[1:]
    files = build()
    changed = []
    for rel, obj in sorted(files.items()):
        path = os.path.join(EXPECTED_DIR, rel)
        text = dump(obj)
        old = None
        if os.path.exists(path):
            with open(path, encoding='utf-8') as f:
                old = f.read()
        if old != text:
            changed.append(rel)
            if not check:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, 'w', encoding='utf-8', newline='\n') as f:
                    f.write(text)
    if check:
        for rel in changed:
            print('would change:', rel)
        sys.exit(1 if changed else 0)
    print('wrote %d expected files (%d changed)' % (len(files), len(changed)))


if __name__ == '__main__':
    main()

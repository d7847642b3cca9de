#!/usr/bin/env python3
"""Extract the selected ORU messages from public HL7 library repositories into
Tests/Corpus/hl7/<source>/<name>.hl7 (one message per file, segments terminated by CR).

One-off helper (NOT run by the tests). Needs bare git mirrors under /work/.mirror.
Messages embedded in Java/C#/Python test sources are taken from the string literal
(concatenation) that holds them, with the language's escapes decoded ("\\&" -> "\&", "\r" -> CR).
Nothing inside a segment is changed; only the segment separator is normalised to CR, a UTF-8
BOM is dropped, and every segment (including the last) is terminated by CR.
"""
import hashlib, os, re, subprocess, sys

OUT = sys.argv[1] if len(sys.argv) > 1 else 'Tests/Corpus/hl7'
MIRROR = '/work/.mirror/%s/repo'

STR = re.compile(r'@"(?:[^"]|"")*"|"(?:[^"\\\n]|\\.)*"', re.S)

def dec(lit):
    if lit.startswith('@"'):
        return lit[2:-1].replace('""', '"')
    s, out, i = lit[1:-1], [], 0
    esc = {'r': '\r', 'n': '\n', 't': '\t', '\\': '\\', '"': '"', "'": "'", '0': '\0'}
    while i < len(s):
        c = s[i]
        if c == '\\' and i + 1 < len(s):
            n = s[i + 1]
            if n in esc:
                out.append(esc[n]); i += 2; continue
            if n == 'u':
                out.append(chr(int(s[i + 2:i + 6], 16))); i += 6; continue
            out.append(n); i += 2; continue
        out.append(c); i += 1
    return ''.join(out)

def literal_runs(text):
    """Concatenations "a" + "b" + ... (Java/C#) or adjacent list items joined by "\\r" (python-hl7)."""
    pos, cur, res = 0, None, []
    for m in STR.finditer(text):
        between = re.sub(r'//[^\n]*', '', text[pos:m.start()])
        if cur is not None and re.fullmatch(r'[\s+]*', between) and '+' in between:
            cur.append(dec(m.group()))
        elif cur is not None and re.fullmatch(r'\s*,\s*', between):      # python list items
            cur.append('\r' + dec(m.group()))
        else:
            if cur:
                res.append(''.join(cur))
            cur = [dec(m.group())]
        pos = m.end()
    if cur:
        res.append(''.join(cur))
    return res

def messages(text):
    text = text.replace('\ufeff', '').replace('\r\n', '\r').replace('\n', '\r')
    starts = [m.start() for m in re.finditer(r'MSH\|', text)]
    for k, i in enumerate(starts):
        j = starts[k + 1] if k + 1 < len(starts) else len(text)
        segs = []
        for s in text[i:j].split('\r'):
            if re.match(r'^[A-Z][A-Z0-9]{2}\|', s):
                segs.append(s)
            else:
                if s == '' and not segs:
                    continue
                break
        yield segs

def key(segs):
    return hashlib.sha1('\r'.join(segs).encode('utf-8')).hexdigest()[:10]

# (source-id, repository, path, first-10-hex of sha1 of the CR-joined segments, output name)
SELECTION = [
    ('hapi-hl7v2', 'hapifhir+hapi-hl7v2', 'hapi-osgi-test/src/test/java/ca/uhn/hl7v2/parser/tests/ParserPerformance.java', None, 'abg-v24'),
    ('hapi-hl7v2', 'hapifhir+hapi-hl7v2', 'hapi-test/src/test/java/ca/uhn/hl7v2/util/ReadOnlyMessageIteratorTest.java', None, 'abg-v25'),
    ('hapi-hl7v2', 'hapifhir+hapi-hl7v2', 'hapi-test/src/test/java/ca/uhn/hl7v2/util/MessageQueryTest.java', '4f37edd7aa', 'abg-repetitions'),
    ('hapi-hl7v2', 'hapifhir+hapi-hl7v2', 'hapi-test/src/test/java/ca/uhn/hl7v2/util/MessageQueryTest.java', '7dafebd241', 'abg-obr7-minutes'),
    ('hapi-hl7v2', 'hapifhir+hapi-hl7v2', 'hapi-osgi-test/src/test/java/ca/uhn/hl7v2/parser/tests/ParserTest.java', None, 'ethanol-v26'),
    ('hapi-hl7v2', 'hapifhir+hapi-hl7v2', 'hapi-test/src/test/java/ca/uhn/hl7v2/model/ConvenienceModelParseTest.java', None, 'olis-reticulocyte'),
    ('hapi-hl7v2', 'hapifhir+hapi-hl7v2', 'hapi-test/src/test/java/ca/uhn/hl7v2/parser/EscapeTest.java', None, 'olis-cholesterol-escapes'),
    ('hapi-hl7v2', 'hapifhir+hapi-hl7v2', 'hapi-test/src/test/java/ca/uhn/hl7v2/parser/NewPipeParserTest.java', '26e305c6ef', 'olis-zpi-before-pid'),
    ('hapi-hl7v2', 'hapifhir+hapi-hl7v2', 'hapi-test/src/test/java/ca/uhn/hl7v2/parser/NewPipeParserTest.java', '37f769c8e0', 'olis-dsc-zpi'),
    ('hapi-hl7v2', 'hapifhir+hapi-hl7v2', 'hapi-test/src/test/java/ca/uhn/hl7v2/validation/MessageValidatorTest.java', None, 'ihe-pcd01-nibp'),
    ('hapi-hl7v2', 'hapifhir+hapi-hl7v2', 'hapi-test/src/test/resources/ca/uhn/hl7v2/parser/example_oml_o21.hl7', None, 'cbc-alt-loinc'),
    ('nhapi', 'nHapiNET+nHapi', 'tests/NHapi.NUnit/Parser/PipeParserV231Tests.cs', None, 'cbc-escape-dollar'),
    ('nhapi', 'nHapiNET+nHapi', 'tests/NHapi.NUnit/Parser/PipeParserV24Tests.cs', None, 'molis-hormones'),
    ('nhapi', 'nHapiNET+nHapi', 'tests/NHapi.NUnit/Parser/PipeParserV26Tests.cs', None, 'ihe-pcd-idc-paceart'),
    ('nhapi', 'nHapiNET+nHapi', 'tests/NHapi.NUnit/ValidationTests.cs', 'a2fdded273', 'nm-invalid-text'),
    ('nhapi', 'nHapiNET+nHapi', 'tests/NHapi.NUnit/ValidationTests.cs', 'e48a2b9eb7', 'nm-decimal'),
    ('hl7-dotnetcore', 'Efferent-Health+HL7-dotnetcore', 'test/Program.cs', None, 'lh-fsh'),
    ('fhir-converter', 'microsoft+FHIR-Converter', 'data/SampleData/Hl7v2/LAB-ORU-1.hl7', None, 'LAB-ORU-1'),
    ('fhir-converter', 'microsoft+FHIR-Converter', 'data/SampleData/Hl7v2/LAB-ORU-2.hl7', None, 'LAB-ORU-2'),
    ('fhir-converter', 'microsoft+FHIR-Converter', 'data/SampleData/Hl7v2/LRI_2.0-NG_CBC_Typ_Message.hl7', None, 'LRI_2.0-NG_CBC_Typ_Message'),
    ('fhir-converter', 'microsoft+FHIR-Converter', 'data/SampleData/Hl7v2/ORU-R01-01.hl7', None, 'ORU-R01-01'),
    ('linuxforhealth', 'LinuxForHealth+hl7v2-fhir-converter', 'src/test/java/io/github/linuxforhealth/FHIRConverterTest.java', '77468482dc', 'non-hdl-cholesterol'),
    ('linuxforhealth', 'LinuxForHealth+hl7v2-fhir-converter', 'src/test/java/io/github/linuxforhealth/hl7/message/Hl7MessageTest.java', '5a021df401', 'total-protein'),
    ('linuxforhealth', 'LinuxForHealth+hl7v2-fhir-converter', 'src/test/java/io/github/linuxforhealth/hl7/message/Hl7ORUMessageTest.java', 'e71304c911', 'echo-heart-rate'),
    ('linuxforhealth', 'LinuxForHealth+hl7v2-fhir-converter', 'src/test/java/io/github/linuxforhealth/hl7/message/Hl7ORUMessageTest.java', 'b3d4683d03', 'nist-hepatitis-panel'),
    ('linuxforhealth', 'LinuxForHealth+hl7v2-fhir-converter', 'src/test/java/io/github/linuxforhealth/hl7/segments/Hl7ObservationFHIRConversionTest.java', '6fb1b18272', 'nist-hbcab-quant'),
    ('python-hl7', 'johnpaulett+python-hl7', 'tests/samples.py', None, 'glucose-sn'),
]

def candidates(repo, path):
    raw = subprocess.check_output(['git', '--git-dir=' + MIRROR % repo, 'show', 'HEAD:' + path])
    text = raw.decode('utf-8')
    texts = literal_runs(text) if path.endswith(('.java', '.cs', '.py')) else [text]
    out = []
    for t in texts:
        for segs in messages(t):
            if not segs:
                continue
            f = segs[0].split('|')
            if len(f) > 8 and f[8].startswith('ORU'):
                out.append(segs)
    return out

def main():
    for src, repo, path, h, name in SELECTION:
        cands = candidates(repo, path)
        nm = [c for c in cands if any(s.startswith('OBX|') and len(s.split('|')) > 5 and s.split('|')[2] in ('NM', 'SN') and s.split('|')[5].strip() for s in c)]
        if h:
            nm = [c for c in nm if key(c) == h]
        assert nm, (path, h, [key(c) for c in cands])
        segs = nm[0]
        os.makedirs(f'{OUT}/{src}', exist_ok=True)
        with open(f'{OUT}/{src}/{name}.hl7', 'wb') as f:
            f.write(('\r'.join(segs) + '\r').encode('utf-8'))
        print(f'{src}/{name}.hl7', key(segs), len(segs), 'segments', '(from', repo, path + ')')

main()

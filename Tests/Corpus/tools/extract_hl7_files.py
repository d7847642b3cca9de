#!/usr/bin/env python3
"""Copy the selected stand-alone HL7 v2 message files (one message per source file) from public
repositories into Tests/Corpus/hl7/<source>/<name>.hl7 (segments terminated by CR).

One-off helper (NOT run by the tests). Needs bare git mirrors under /work/.mirror. Unlike
extract_hl7.py it reads a given commit or branch (some files exist only on a branch or in one
commit of the repository's history). Nothing inside a segment is changed; only the segment
separator (CRLF or LF) is normalised to CR, a UTF-8 BOM would be dropped, and every segment
(including the last) is terminated by CR. It refuses a file that holds more than one MSH or a
line that is not a segment.
"""
import os, re, subprocess, sys

OUT = sys.argv[1] if len(sys.argv) > 1 else 'Tests/Corpus/hl7'
MIRROR = '/work/.mirror/%s/repo'
NIST_CBC = 'src/main/resources/Contextbased/EHR/2-NG/3-CBC/'
IPF_PCD = 'commons/ihe/hl7v2ws/src/test/resources/'

# (source-id, mirror, commit, path, output name)
SELECTION = [
    ('nist-lri', 'usnistgov+hit-mu-tools-resource-bundles', '060f7af14daa359937f326c361bb9610b7a8ba48',
     NIST_CBC + '1-Partial_result_to_final/1-LRI_2.0_0.1-NG/Message.txt', 'LRI_2.0_0.1-NG'),
    ('nist-lri', 'usnistgov+hit-mu-tools-resource-bundles', '060f7af14daa359937f326c361bb9610b7a8ba48',
     NIST_CBC + '2-Final_result_to_wrong_patient/1-LRI_2.1_1.1-NG/Message.txt', 'LRI_2.1_1.1-NG'),
    ('nist-lri', 'usnistgov+hit-mu-tools-resource-bundles', '060f7af14daa359937f326c361bb9610b7a8ba48',
     NIST_CBC + '2-Final_result_to_wrong_patient/2-LRI_2.1_2.1-NG/Message.txt', 'LRI_2.1_2.1-NG'),
    ('nist-lri', 'usnistgov+hit-mu-tools-resource-bundles', '060f7af14daa359937f326c361bb9610b7a8ba48',
     NIST_CBC + '3-Final_result_to_amended/1-LRI_2.2_1.1-NG/Message.txt', 'LRI_2.2_1.1-NG'),
    ('nist-lri', 'usnistgov+hit-mu-tools-resource-bundles', '060f7af14daa359937f326c361bb9610b7a8ba48',
     NIST_CBC + '3-Final_result_to_amended/2-LRI_2.2_2.1-NG/Message.txt', 'LRI_2.2_2.1-NG'),
    ('ipf', 'oehf+ipf', '2328644e0a1d79442b3fa87d0fae85f013639ccf',
     IPF_PCD + 'pcd01/valid-pcd01-MaximumRequest2.hl7', 'valid-pcd01-MaximumRequest2'),
    ('ipf', 'oehf+ipf', '2328644e0a1d79442b3fa87d0fae85f013639ccf',
     IPF_PCD + 'pcd01/valid-pcd01-request2.hl7v2', 'valid-pcd01-request2'),
    ('ipf', 'oehf+ipf', '2328644e0a1d79442b3fa87d0fae85f013639ccf',
     IPF_PCD + 'wan/valid-oximeter-continua-wan.hl7v2', 'valid-oximeter-continua-wan'),
    ('ipf', 'oehf+ipf', '2328644e0a1d79442b3fa87d0fae85f013639ccf',
     IPF_PCD + 'wan/valid-thermometer-continua-wan.hl7v2', 'valid-thermometer-continua-wan'),
    ('ipf', 'oehf+ipf', '2328644e0a1d79442b3fa87d0fae85f013639ccf',
     IPF_PCD + 'wan/valid-glucose-continua-wan.hl7v2', 'valid-glucose-continua-wan'),
    ('ipf', 'oehf+ipf', '2328644e0a1d79442b3fa87d0fae85f013639ccf',
     'modules/hl7/src/test/resources/dsl/oru-r01-25.hl7', 'oru-r01-25'),
    ('hl7-v2-to-fhir', 'HL7+v2-to-fhir', '26cecac83c9e6adf119a3cc18495273ae5fdd92b',
     'archive/src/test/resources/v2/ORU/R01-Lab-Panel-Various-Blood-Tests-v2.3.1.txt',
     'R01-Lab-Panel-Various-Blood-Tests-v2.3.1'),
]

SEGMENT = re.compile(r'^[A-Z][A-Z0-9]{2}\|')


def main():
    for src, repo, rev, path, name in SELECTION:
        raw = subprocess.check_output(['git', '--git-dir=' + MIRROR % repo, 'show', rev + ':' + path])
        text = raw.decode('utf-8').replace('\ufeff', '').replace('\r\n', '\r').replace('\n', '\r')
        segs = [s for s in text.split('\r') if s != '']
        assert segs and segs[0].startswith('MSH|'), (path, 'does not start with MSH')
        assert sum(s.startswith('MSH|') for s in segs) == 1, (path, 'more than one message')
        bad = [s for s in segs if not SEGMENT.match(s)]
        assert not bad, (path, bad)
        os.makedirs(f'{OUT}/{src}', exist_ok=True)
        with open(f'{OUT}/{src}/{name}.hl7', 'wb') as f:
            f.write(('\r'.join(segs) + '\r').encode('utf-8'))
        print(f'{src}/{name}.hl7', len(segs), 'segments', '(from', repo, rev[:10], path + ')')


main()

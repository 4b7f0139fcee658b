#!/bin/bash
PY=/work/main/.venv/bin/python
cd /work/wt/dayclustered && PYTHONPATH=/work/wt/dayclustered $PY /work/prof/dc_refreshprof.py > /work/prof/dc_refresh2.log 2>&1
cd /work/main && $PY /work/prof/dcmain_refreshprof.py > /work/prof/dcmain_refresh2.log 2>&1
cd /work/wt/dayclustered && PYTHONPATH=/work/wt/dayclustered timeout 400 $PY /work/prof/dc_fullrefresh.py /work/prof/dc/scale.db > /work/prof/dc_full.log 2>&1
cd /work/main && timeout 400 $PY /work/prof/dc_fullrefresh.py /work/prof/dcmain/scale.db > /work/prof/dcmain_full.log 2>&1
cd /work/wt/dayclustered && PYTHONPATH=/work/wt/dayclustered $PY /work/prof/dc_scaleprof.py 11 > /work/prof/dc_import4.log 2>&1
cd /work/main && $PY /work/prof/dcmain_scaleprof.py 11 > /work/prof/dcmain_import4.log 2>&1
echo done > /work/prof/dc_chain.done

#!/bin/sh
# tests/browser/make_store.sh DB — a small synthetic experiment store for the
# report tests (e2e and browser): baseline 10 W, variants "fast" (20 W) and
# "slow" (30 W) × 3 reps of 20 s at 10 Hz, epochs with an accuracy metric,
# controls, and one failed run. Energies are exact: P × 20 s.
set -e
db=$1
rm -f "$db"
"${JB:-joulebench}" store-schema | sqlite3 "$db"
sqlite3 "$db" <<'SQL'
INSERT INTO meta VALUES('schema_version','1');
INSERT INTO host(id,hostname,cpu_model,cores,ram_bytes,kernel,os,jb_version)
  VALUES(1,'testbox','Test CPU',4,8000000000,'6.1','Debian 12','0.1.0');
INSERT INTO experiment(id,host_id,name,kind,spec_path,status) VALUES(1,1,'demo','experiment','demo.yaml','done');
CREATE TEMP TABLE plan(id INTEGER, variant TEXT, phase TEXT, rep INTEGER, p REAL, status TEXT);
INSERT INTO plan VALUES
 (1,'','baseline',1,10,'ok'),(2,'fast','scenario',1,20,'ok'),(3,'slow','scenario',1,30,'ok'),
 (4,'','baseline',2,10.5,'ok'),(5,'fast','scenario',2,21,'ok'),(6,'slow','scenario',2,31,'ok'),
 (7,'','baseline',3,9.5,'ok'),(8,'fast','scenario',3,22,'ok'),(9,'slow','scenario',3,32,'ok'),
 (10,'slow','scenario',4,99,'failed');
INSERT INTO run(id,experiment_id,variant,phase,rep,seq,start_ns,end_ns,exit_code,status,interval_ns,controls)
  SELECT id,1,variant,phase,rep,id,1700000000000000000+id*30000000000,
         1700000000000000000+id*30000000000+20000000000,0,status,100000000,
         '{"drop_caches":{"status":"skipped","reason":"not root"},"seed":{"status":"applied"}}'
  FROM plan;
INSERT INTO channel(id,run_id,source,name,unit,kind,estimated,role)
  SELECT id,id,'rapl','rapl/package-0','W','power',0,1 FROM plan;
INSERT INTO channel(id,run_id,source,name,unit,kind,estimated,role)
  SELECT 100+id,id,'cpu','cpu/total','%','gauge',0,0 FROM plan;
WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM k WHERE i<200)
INSERT INTO sample SELECT p.id, r.start_ns+k.i*100000000, p.p FROM plan p JOIN run r ON r.id=p.id, k;
WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM k WHERE i<200)
INSERT INTO sample SELECT 100+p.id, r.start_ns+k.i*100000000, p.p FROM plan p JOIN run r ON r.id=p.id, k;
WITH RECURSIVE e(j) AS (SELECT 1 UNION ALL SELECT j+1 FROM e WHERE j<4)
INSERT INTO marker(run_id,t_ns,kind,name,idx,value)
  SELECT r.id, r.start_ns+(e.j-1)*5000000000, 'begin','epoch',e.j,NULL FROM run r, e WHERE r.phase='scenario'
  UNION ALL
  SELECT r.id, r.start_ns+e.j*5000000000-1000, 'end','epoch',e.j,NULL FROM run r, e WHERE r.phase='scenario'
  UNION ALL
  SELECT r.id, r.start_ns+e.j*5000000000-1000, 'metric','val_accuracy',e.j,
         0.4+0.1*e.j+(CASE r.variant WHEN 'fast' THEN 0.05 ELSE 0 END) FROM run r, e WHERE r.phase='scenario';
SQL

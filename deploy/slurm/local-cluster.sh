#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, as root: munged, slurmctld and slurmd
# on localhost with a minimal slurm.conf. For CI and for trying the recipes; a lab
# runs the sbatch recipe on the cluster it has. Idempotent: a running cluster is
# left as it is. Usage: deploy/slurm/local-cluster.sh [CPUS]
#
# CPUS (default 8) is what the node offers to jobs. It may exceed the cores the
# machine has (config_overrides): the driver job of dredge-array.sbatch sleeps
# while it waits, and a 2-core CI machine can then still run 4 shards at once to
# show what its two cores limit.
set -euo pipefail
cpus=${1:-8}
# Two callers at once (parallel tests, two shells) must not both start munged
# and the daemons: the second waits here and then finds the cluster up.
# The daemons started below must not inherit the lock's descriptor (9>&-): a
# munged holding it would make every later caller wait for ever.
exec 9>/run/dredge-local-cluster.lock
flock -w 300 9 || { echo "another local-cluster.sh held /run/dredge-local-cluster.lock for 300 s" >&2; exit 1; }
if scontrol ping 2>/dev/null | grep -q UP && sinfo -h -o %T 2>/dev/null | grep -qE "idle|mixed|alloc"; then
    exit 0
fi
command -v slurmctld >/dev/null || { echo "slurm-wlm is not installed (scripts/install-tools.sh)" >&2; exit 1; }
node=$(hostname -s)
mkdir -p /etc/munge /var/log/munge /run/munge /var/lib/munge /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown -R munge:munge /etc/munge /var/log/munge /run/munge /var/lib/munge 2>/dev/null || true
chmod 0700 /etc/munge; chmod 0400 /etc/munge/munge.key
# A munged that answers is kept; one that does not (absent, or still shutting
# down) is waited out and started afresh.
munge_ok() { munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; }
if ! munge_ok; then
    for _ in $(seq 1 20); do pgrep -x munged >/dev/null || break; sleep 0.5; done
    pkill -x munged 2>/dev/null && sleep 1 || true
    if id munge >/dev/null 2>&1; then runuser -u munge -- /usr/sbin/munged 9>&-
    else /usr/sbin/munged --force 9>&-; fi
    for _ in $(seq 1 20); do munge_ok && break; sleep 0.5; done
    munge_ok || { echo "munged did not start: see /var/log/munge/munged.log" >&2; exit 1; }
fi
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=dredge-ci
SlurmctldHost=${node}(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmdParameters=config_overrides
MinJobAge=30
NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=4000 State=UNKNOWN
PartitionName=dredge Nodes=${node} Default=YES MaxTime=INFINITE State=UP
CONF
pkill -x slurmctld 2>/dev/null || true
pkill -x slurmd 2>/dev/null || true
sleep 1
/usr/sbin/slurmctld -c -i 9>&- 2>/dev/null || /usr/sbin/slurmctld -i 9>&-
/usr/sbin/slurmd 9>&-
for _ in $(seq 1 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qE "^(idle|mixed|allocated)"; then
        exit 0
    fi
    scontrol update nodename="$node" state=resume 2>/dev/null || true
    sleep 1
done
echo "slurm did not come up: see /var/log/slurm/" >&2
sinfo >&2 || true
exit 1

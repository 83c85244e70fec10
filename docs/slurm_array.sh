#!/bin/bash
# A SLURM array job running one shard of a study per array task. Submit it, then the merge as a
# dependent job:
#   jid=$(sbatch --parsable docs/slurm_array.sh)
#   sbatch --dependency=afterok:"$jid" --wrap 'mcaann merge parts/part_*.nc --out results/sky130_area.nc'
#SBATCH --job-name=mcaann
#SBATCH --array=0-31
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=04:00:00
mkdir -p parts
export MCAANN_KERNEL_CACHE="${MCAANN_KERNEL_CACHE:-$HOME/.cache/mcaann/kernels}"  # one cache for every task
mcaann run sky130_area --instances 1000000 --threads "$SLURM_CPUS_PER_TASK" \
    --shard "${SLURM_ARRAY_TASK_ID}/32" --out "parts/part_${SLURM_ARRAY_TASK_ID}.nc" --quiet

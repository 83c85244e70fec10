#!/bin/bash
# A SLURM array job running one shard of a study per array task; then: mcaann merge parts/part_*.nc --out ...
#SBATCH --job-name=mcaann
#SBATCH --array=0-31
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=04:00:00
mkdir -p parts
mcaann run sky130_area --instances 1000000 --threads "$SLURM_CPUS_PER_TASK" \
    --shard "${SLURM_ARRAY_TASK_ID}/32" --out "parts/part_${SLURM_ARRAY_TASK_ID}.nc" --quiet

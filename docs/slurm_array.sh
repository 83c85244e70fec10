#!/bin/bash
#SBATCH --job-name=mcaann
#SBATCH --array=0-31
#SBATCH --cpus-per-task=8
#SBATCH --mem=8G
#SBATCH --time=04:00:00
mcaann run sky130_area --instances 1000000 --threads "$SLURM_CPUS_PER_TASK" \

// op4d: the command-line front end. Every subcommand has --help; errors print one line naming the
// file, dataset, option or value at fault, and exit non-zero (1 bad input, 2 usage, 3 internal).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <variant>
#include <array>

#include "args.h"
#include "op4d/advise/advise.h"
#include "op4d/core/error.h"
#include "op4d/core/hash.h"
#include "op4d/core/version.h"
#include "op4d/io/export.h"
#include "op4d/io/import.h"
#include "op4d/pipeline/campaign.h"
#include "op4d/store/frame_store.h"
#include "op4d/pipeline/manifest.h"
#include "op4d/pipeline/network.h"
#include "op4d/pipeline/register.h"
#include "op4d/pipeline/report.h"
#include "op4d/pipeline/throats.h"
#include "op4d/pipeline/score.h"
#include "op4d/pipeline/soc.h"
#include "op4d/pipeline/degradation.h"
#include "op4d/pipeline/transport.h"
#include "op4d/pipeline/geometry.h"
#include "op4d/pipeline/large_frame.h"
#include "run.h"

using namespace op4d;

namespace op4d::cli {
extern const char* const kAdviseSchema;  // schemas/advise.schema.json, built in
}
using cli::Args;

namespace {

const char* kUsage =
    "op4d — time-resolved (operando) tomography of battery electrodes\n"
    "\n"
    "usage: op4d <command> [options]   (op4d <command> --help for details)\n"
    "\n"
    "commands:\n"
    "  demo       build the built-in example campaign, analyse every frame, print a result table\n"
    "  synth      write a synthetic campaign with exact ground truth\n"
    "  import     import scans (TIFF, raw, MHA/NRRD/NIfTI, DXchange/NeXus HDF5) into a campaign store\n"
    "  info       describe a campaign store: frames, geometry, time table, results\n"
    "  export     write a frame, result volume or table to TIFF/MHA/NRRD/NIfTI/VTK/CSV\n"
    "  segment    segment every frame once (denoise, mixture, clean-up) and store labels and probability maps\n"
    "  quicklook  segment every frame (Gaussian mixture or multi-Otsu) and report phase volume fractions\n"
    "  network    extract the pore network (skeleton, nodes, throats) of frames or of a labelled volume\n"
    "  run        run a pipeline file (pipelines/*.json) on a campaign store, step by step\n"
    "  geometry   phase fractions, percolation, interface areas, size distributions, particles, contacts and adhesion\n"
    "  large-frame one frame of beamline size (1024^3-2048^3) block by block: segmentation, fractions, percolation, a_s\n"
    "  tortuosity tortuosity factor of a phase along z, y, x (finite volumes) for frames or a labelled volume\n"
    "  conductivity effective electronic conductivity of the solid per frame, with inter-particle contact resistance\n"
    "  throats    follow the reference network's throats through the frames: Young-Laplace open/closed, percolation history\n"
    "  soc        state of charge per particle from the register step's strains (law given or calibrated)\n"
    "  degradation particle cracks, fragments and debonding through the cycles, per-cycle drift of the metrics\n"
    "  register   register frames to the reference (rigid/affine in-process, non-rigid with elastix): F, J, strain\n"
    "  merge      merge the per-frame results of scale-out parts (copies run with --frames A:B --no-series)\n"
    "  score      compare every stored result of a synthetic campaign with its ground truth: the scorecard\n"
    "  advise     rank lab micro-CT, nano-CT, synchrotron CT and FIB-SEM for a feature size, RVE and phases\n"
    "  report     write an HTML report (plots against time, slices with label and strain overlays), CSV and VTK\n"
    "  version    print op4d's version\n"
    "\n"
    "A store can be read while an acquisition appends to it: a command that reads it while the writer\n"
    "changes the file's structure waits up to 30 s for it.\n";

const std::map<std::string, std::string> kHelp = {
    {"advise",
     "usage: op4d advise (--feature UM --rve UM | --labels FILE [--spacing S]) [--thickness UM] [--in-operando]\n"
     "                   [--destructive-ok] [--rve-label L] [--rve-samples N] [--rve-tolerance T] [--no-rve-tau]\n"
     "                   [--phases SPEC] [--techniques FILE] [--json OUT] [--contrast-at KEV]\n"
     "                   [--min-voxels N] [--min-transmission T] [--snr S] [--rose R]\n"
     "Which technique to image with: every technique of the table (data/techniques.json: typical voxel,\n"
     "detector, field of view, scan time, destructive, in operando capable, with sources) ranked from the\n"
     "smallest feature to resolve (--feature, um; at least --min-voxels voxels across it, default 3), the\n"
     "representative volume (--rve: the cube edge, um), the X-ray path through the sample (--thickness, um;\n"
     "default the RVE edge; at least --min-transmission of the beam must pass, default 0.1, at the lowest\n"
     "energy that does: best contrast) and the absorption contrast of every phase pair (xraylib mass\n"
     "attenuation; CNR = SNR x |mu_a - mu_b| / mu_max against the Rose criterion, defaults 20 and 3; where\n"
     "absorption fails, whether propagation/Zernike phase contrast would separate the pair). FIB-SEM is\n"
     "destructive: excluded in operando and unless --destructive-ok. --phases\n"
     "'name=composition@density[@volume_fraction];...' with a formula or formula:mass,... per phase\n"
     "(default: NMC111 4.77, carbon-binder C:0.5,C2H2F2:0.5 1.95, electrolyte LiPF6:0.12,C3H4O3:0.44,\n"
     "C3H6O3:0.44 1.29). --contrast-at KEV prints the attenuation and contrast table at that energy.\n"
     "--json writes the ranking with every reason and number. --input FILE.json gives the same keys as a\n"
     "file (schemas/advise.schema.json: feature_um, rve_um, thickness_um, in_operando, destructive_ok,\n"
     "phases [{name, composition, density_g_cm3, volume_fraction}], labels, spacing_um, ...); the\n"
     "command line wins.\n"
     "From a measured label volume (--labels: TIFF, MHA, ... with labels 0 pore, 1 active, 2 binder;\n"
     "--spacing um when the file has none): the smallest feature is the lowest 10th percentile of the local\n"
     "thickness of the phases, and the RVE the smallest cube edge from which on porosity, a_s and tau_z of\n"
     "phase --rve-label (default 0) on --rve-samples random cubes per edge (default 6) have a coefficient of\n"
     "variation and a bias to the whole volume's value within --rve-tolerance (default 0.05). Given\n"
     "--feature or --rve override what the volume says. --store CAMPAIGN.h5 [--frame K] takes frame K's\n"
     "stored labels (op4d segment) and, when the network step ran, its throat diameters 2 r_min, when the\n"
     "geometry step ran, its particles' equivalent diameters as more feature sizes; the ranking and the\n"
     "RVE curve are then stored as the series results advice and advice_rve, which op4d report shows in\n"
     "its imaging-technique section (--no-save: print only).\n"},
    {"synth",
     "usage: op4d synth --out CAMPAIGN.h5 [options]\n"
     "Writes a synthetic operando campaign (grey frames + cycler log) and its ground truth beside it\n"
     "(CAMPAIGN.truth.h5: phase labels, particle labels, per-particle SOC/strain, throat gaps, drift).\n"
     "  --seed N                 random seed (default 1); same seed, same campaign\n"
     "  --frames N               number of frames (default 5)\n"
     "  --times T0 T1 ...        explicit frame times in s (uneven spacing allowed; sets --frames)\n"
     "  --shape Z Y X            field of view in voxels (default 64 96 96)\n"
     "  --spacing Z Y X          voxel size in um (default 0.5 0.5 0.5); anisotropic allowed\n"
     "  --radius UM              median particle radius (default 3)\n"
     "  --solid-fraction F       target active fraction of the packing (default 0.45)\n"
     "  --calendering F          z compression factor in (0.2, 1] (default 1 = none)\n"
     "  --binder-neck UM         binder fills necks narrower than this (default 1.4)\n"
     "  --binder MODEL           carried (default): binder moves with the particles it binds;\n"
     "                           regrow: the neck rule is applied again each frame (necks widen as gaps close)\n"
     "  --snr S                  (active - pore) / noise sigma (default 10; 0 = no noise)\n"
     "  --blur SIGMA             Gaussian PSF sigma in voxels (default 0.6)\n"
     "  --strain-per-soc K       eps_v = K * delta SOC (default 0.06)\n"
     "  --soc A B                mean SOC at the start and end (default 0.05 0.95)\n"
     "  --soc-gradient G         separator - collector SOC difference mid-campaign (default 0.3)\n"
     "  --drift Z Y X            rigid drift per frame in um (default 0.25 -0.4 0.6)\n"
     "  --duration S             campaign duration in s (default 7200)\n"
     "  --pressure P0 P1         applied gas pressure in Pa (default 1e5 2.5e5): a ramp over the campaign,\n"
     "                           or with --cycles following the charge (P0 discharged, P1 charged)\n"
     "  --cycles N               N charge/discharge cycles over --duration (default 0: one charge ramp)\n"
     "  --charge-share F         share of each cycle spent charging (default 0.5)\n"
     "  Damage across cycles (needs --cycles >= 2; cycle 1 stays intact; the truth's particles table\n"
     "  holds crack_stage, fragments, crack_volume_um3, crack_area_um2, debonded, binder_contact_um2):\n"
     "  --crack-share F          share of particles that crack, onset cycle drawn in 2..N (default 0)\n"
     "  --fragment-share F       of the cracked, the share split into 2-4 fragments 1-2 cycles later (0.7)\n"
     "  --crack-width UM         opening of a crack sheet (default 0.5)\n"
     "  --debond-share F         share of particles whose binder detaches over a cap (default 0)\n"
     "  --debond-loss F          share of a debonding particle's surface directions losing binder (0.5)\n"
     "  --debond-gap UM          gap opened between such a particle and its binder (default 0.5)\n"
     "  --residual-strain E      irreversible eps_v per cycle, every particle (default 0)\n"
     "  --built-in               start from the built-in example campaign (op4d demo) instead of these\n"
     "                           defaults; the other options change it\n"
     "  --dtype uint16|float32   grey voxel type (default uint16)\n"
     "  --kind particles|lattice particles (default): the electrode above. lattice: a solid block with a\n"
     "                           cubic lattice of pore bodies joined by cylindrical throats, throats swollen\n"
     "                           shut and reopened at scripted frames, p_app raised for two mid-campaign\n"
     "                           frames so that gas invades the wide throats; the truth holds every\n"
     "                           throat's radius per frame (the throat-history check, op4d throats\n"
     "                           --check-truth). Segment it with --phases pore=0:pore,solid=1:active.\n"
     "                           It takes --seed --frames --times --spacing --snr --blur --drift --duration\n"
     "                           --dtype and:\n"
     "  --bodies Z Y X           lattice: pore bodies per axis (default 5 4 4)\n"
     "  --pitch UM               lattice: body centre to centre (default 8)\n"
     "  --body-radius UM         lattice: pore body radius (default 3)\n"
     "  --throat-radii W N       lattice: wide and narrow throat radius in um (default 2 1)\n"
     "  --narrow-share F         lattice: probability that an interior throat is narrow (default 0.3)\n"
     "  --closure-share F        lattice: share of interior throats swollen shut (default 0.2)\n"
     "  --design-law GAMMA THETA lattice: the law the pressure schedule is designed for (default 0.072 0)\n"
     "  --codec C                none|gzip|blosc-zstd|blosc-lz4 (default blosc-zstd)\n"
     "  --threads N              worker threads (default: all cores)\n"
     "  --overwrite              replace existing files\n"
     "  --quiet                  no progress output\n"},
    {"import",
     "usage: op4d import INPUT... --store CAMPAIGN.h5 [options]\n"
     "       op4d import --manifest CAMPAIGN.csv --store CAMPAIGN.h5 [options]\n"
     "Inputs: a multi-page TIFF, a folder of TIFF slices, raw binary, MHA/MHD/NRRD/NIfTI, DXchange\n"
     "(/exchange/data) or NeXus HDF5 (3D, or 4D t,z,y,x: one frame per time step).\n"
     "The manifest is a CSV with columns file,time_s[,dataset,frame,voltage_V,current_A,charge_Ah,\n"
     "soc_ref,p_app_Pa,cycle,step,<user> [unit]...]; paths are relative to the manifest.\n"
     "  --spacing Z Y X          voxel size in um (overrides the file)\n"
     "  --format F               auto|tiff|tiff-slices|raw|itk|dxchange|nexus (default auto)\n"
     "  --shape Z Y X            raw: voxels along z y x\n"
     "  --dtype T                raw: uint8|uint16|float32\n"
     "  --big-endian             raw: big-endian samples\n"
     "  --header-bytes N         raw: bytes to skip before the data\n"
     "  --dataset PATH           HDF5: dataset to read (default /exchange/data or the NeXus signal)\n"
     "  --time-step S            without a manifest: seconds between frames (default 1)\n"
     "  --codec C                none|gzip|blosc-zstd|blosc-lz4 (default blosc-zstd)\n"
     "  --level L                compression level 1..9 (default 1)\n"
     "  --chunk Z Y X            chunk size in voxels (default 64 64 64)\n"
     "  --append                 add frames to an existing store\n"
     "  --overwrite              replace an existing store\n"
     "  --resume                 with --manifest: keep the frames an earlier import of this manifest stored,\n"
     "                           import the rest (an interrupted import, or an archive that grew)\n"
     "  --wait-lock S            wait up to S seconds for another writer of the store (live follow)\n"
     "  --threads N              worker threads for compression\n"
     "  --quiet                  no progress output\n"},
    {"info",
     "usage: op4d info CAMPAIGN.h5 [--time] [--digest]\n"
     "Prints frames, shape, type, spacing, codec, phases, the time table (first and last rows, or\n"
     "all rows with --time) and the results stored per frame and per series.\n"
     "  --digest                 instead, one hash per stored result and one over all of them (wall-time\n"
     "                           columns left out): two stores with the same digest hold the same results\n"},
    {"merge",
     "usage: op4d merge CAMPAIGN.h5 PART.h5... [--quiet]\n"
     "Scale-out: a campaign split by frame ranges across machines or array-job tasks. Each task runs on\n"
     "its own copy of the store:\n"
     "  cp campaign.h5 part_$TASK.h5\n"
     "  op4d run pipeline.json --store part_$TASK.h5 --frames $A:$B --no-series\n"
     "then, once all are done:\n"
     "  op4d merge campaign.h5 part_*.h5      # results of each part's frames, with their journal lines\n"
     "  op4d run pipeline.json --store campaign.h5   # skips the merged work, runs the series steps\n"
     "A part whose frames are not the campaign's is refused before anything is written.\n"},
    {"report",
     "usage: op4d report CAMPAIGN.h5 --out DIR [--slices K,L,...] [--method M] [--no-vtk] [--threads N] [--quiet]\n"
     "Writes DIR/report.html, one self-contained page (no scripts, no network): plots against time (with\n"
     "cycle changes marked) of the cycler log, of every per-frame result (one line per phase or axis;\n"
     "median and 10-90 % band of per-particle strain and SOC) and of every series result (registration,\n"
     "SOC, percolation state, throat events), small tables as tables, and slices of chosen frames with\n"
     "label and J - 1 overlays. Beside it: DIR/csv/*.csv (every table; per-frame tables stacked with a\n"
     "frame column) and DIR/vtk/*.vti (grey, labels and J of the slice frames) for ParaView.\n"
     "  --slices K,L             frames shown as slices (default first and last)\n"
     "  --method M               segmentation of the label overlay: multi-otsu (default), gmm, nlm+gmm\n"
     "  --no-vtk                 no .vti files\n"},
    {"export",
     "usage: op4d export CAMPAIGN.h5 --out FILE [what]\n"
     "  --frame K                a frame (default 0) → .tif .mha .mhd .nrrd .nii .nii.gz .vti .raw\n"
     "  --region Z0 Y0 X0 DZ DY DX   only this sub-volume of the frame\n"
     "  --volume NAME            a per-frame result volume (with --frame) instead of the frame\n"
     "  --table NAME             a per-frame result table (with --frame) → .csv\n"
     "  --series NAME            a series result table → .csv\n"
     "  --time-table             the time table → .csv\n"},
    {"quicklook",
     "usage: op4d quicklook CAMPAIGN.h5 [--method gmm|multi-otsu|nlm+gmm] [--truth TRUTH.h5] [--bins N] [--frames A:B]\n"
     "                       [--threads N] [--quiet]\n"
     "Segments every frame (or frames A..B-1, or frame K) into pore / binder / active, voxel by voxel from the grey value (multi-Otsu\n"
     "thresholds, default; or a Gaussian mixture fitted by EM), stores the phase volume fractions in\n"
     "each frame's results, and prints them per frame.\n"},
    {"segment",
     "usage: op4d segment CAMPAIGN.h5 [--method gmm|multi-otsu|nlm+gmm] [--bins N] [--frames A:B] [--no-probabilities]\n"
     "                    [nlm+gmm tuning] [--clean-up SPEC] [--threads N] [--quiet]\n"
     "Segments every frame (or frames A..B-1, or frame K) once and stores the result for the later steps:\n"
     "per-frame result volumes 'labels' (uint8 phase labels: 0 pore, 1 active, 2 binder) and, for the\n"
     "mixture methods, 'probability_<phase>' (uint8, 255 x the posterior probability: the probability map).\n"
     "nlm+gmm is the whole chain: non-local means denoising, tied-sigma Gaussian mixture, partial-volume\n"
     "correction, forward-model refinement (PSF 0.6 voxel), islands below 27 voxels removed with dual\n"
     "connectivity (pore 26, solid 6).\n"
     "quicklook, geometry, tortuosity, network, register --particles and throats then use the stored\n"
     "labels of a frame when their --method (and bins and phases) is the one the labels were made with,\n"
     "whatever the tuning below: tune the chain here, once.\n"
     "  --phases SPEC            phase table, phases darkest first (default: pore=0:pore,binder=2:binder,\n"
     "                           active=1:active); two phases: pore=0:pore,solid=1:active\n"
     "  --no-probabilities       store the labels only\n"
     "  --ensemble N             also draw N >= 2 coherent label samples of the posterior (heat-bath sweeps of the\n"
     "                           forward model's MRF; mixture methods) and store per frame the table\n"
     "                           segment_ensemble: phase fractions, a_s per pair and the pore's tau_z on the point\n"
     "                           labels with _mean, _sd, _p05, _p95 over the samples, and the expected fractions\n"
     "                           of the posteriors; then the frame's place in the domain the ensemble was\n"
     "                           calibrated in (chord_<phase>: each phase's mean chord 4 f / S in voxels,\n"
     "                           contrast_to_noise, calibrated 1/0). A frame outside it is named on the output:\n"
     "                           its intervals are the model's spread, not calibrated error bars\n"
     "  --ensemble-temperature T, --ensemble-seed S   the sampler's temperature [1] and seed [1]\n"
     "  --ensemble-grey-jitter J every sample draws the model's pure grey values anew, each the fitted one\n"
     "                           plus J x (smallest contrast) x N(0,1), so that whole interfaces move (the\n"
     "                           sub-voxel placement the model cannot know) [0.05, calibrated on synthetic\n"
     "                           frames to hold the truth in about 90 % of 5-95 % intervals; 0 = the model's\n"
     "                           own noise posterior only, far narrower than the error]\n"
     "  --ensemble-jitter-correlation R   correlation in [0, 1] of the labels' grey draws: a common grey\n"
     "                           offset moves every interface the same way and leaves a phase between two\n"
     "                           others (the binder) nearly as it is [calibrated with J]\n"
     "nlm+gmm tuning (defaults in brackets):\n"
     "  --nlm-h F                NLM filtering strength h = F x noise sigma [0.45]\n"
     "  --nlm-sigma S            noise sigma in grey units [0: estimated from each frame; give it for\n"
     "                           frames without noise]\n"
     "  --nlm-patch UM, --nlm-search UM   patch and search half-widths in um [one and three voxels]\n"
     "  --psf SIGMA              the beamline's PSF, Gaussian sigma in voxels, for the forward-model\n"
     "                           refinement [0.6]; 0 = no refinement\n"
     "  --smoothness S           the refinement's smoothness prior [0.3]\n"
     "  --islands N              components of a phase below N voxels go to the phase around them [27]\n"
     "  --clean-up SPEC          openings and closings of phases, in order, after the segmentation (any\n"
     "                           method): op:phase:radius_um,... e.g. opening:binder:0.3,closing:pore:0.5;\n"
     "                           a radius not small against the phase's feature radius is refused\n"},
    {"conductivity",
     "usage: op4d conductivity CAMPAIGN.h5 [options]\n"
     "Effective electronic conductivity of the solid of each frame (finite volumes), with a contact\n"
     "resistance between touching active particles (watershed-separated). Table conductivity per frame,\n"
     "one row per axis: sigma_eff [S/m], sigma_eff/sigma_active, tau_electronic, contact faces and the\n"
     "share of the power dissipated in contacts.\n"
     "  --sigma-active S         conductivity of the active phase, S/m (default 1)\n"
     "  --sigma-binder S         conductivity of the carbon-binder domain, S/m (default 100)\n"
     "  --contact-resistance R   r_c between two particles, ohm m^2 (default 0)\n"
     "  --axes zyx               axes to solve along (default z)\n"
     "  --method M               segmentation: multi-otsu (default), gmm, nlm+gmm (stored labels reused)\n"
     "  --tolerance T            relative residual (default 1e-8)\n"
     "  --ensemble N             also on the first N label samples op4d segment --ensemble stored (same\n"
     "                           --method): table conductivity_ensemble, per axis sigma_eff, tau_electronic,\n"
     "                           fractions and contact figures with _mean, _sd, _p05, _p95\n"
     "  --frames A:B             frames A..B-1 (default all); or a single frame K\n"
     "  --threads N, --quiet\n"},
    {"network",
     "usage: op4d network INPUT [options]\n"
     "INPUT is a campaign store (results go into each frame's results: network_pores, network_throats,\n"
     "network_throat_paths, network_summary) or any volume op4d imports (a labelled TIFF, MHA, ...).\n"
     "  --pore-value V           the input holds labels; pore = voxels equal to V (e.g. 0)\n"
     "  --method M               otherwise segment grey frames: multi-otsu (default), gmm, nlm+gmm\n"
     "  --frames A:B             store frames A..B-1 (default all); or a single frame K\n"
     "  --spacing Z Y X          voxel size in um (volume input; overrides the file)\n"
     "  --prune UM               also remove spurs shorter than UM (default 0: only spurs inside a junction's ball)\n"
     "  --keep-cavities          do not fill enclosed solid before the skeleton\n"
     "  --ensemble N             also on the first N label samples op4d segment --ensemble stored (same\n"
     "                           --method): table network_ensemble, node/throat counts, loops and throat-radius\n"
     "                           quantiles with _mean, _sd, _p05, _p95\n"
     "  --out DIR                write CSV tables, DIR/<stem>.vtp (ParaView) and <stem>_openpnm.h5 (OpenPNM keys)\n"
     "  --threads N              worker threads\n"
     "  --quiet                  no progress output\n"},
    {"run",
     "usage: op4d run PIPELINE.json --store CAMPAIGN.h5 [options]\n"
     "Runs the steps of a pipeline file on one store. The file is validated against the built-in schema\n"
     "(schemas/pipeline.schema.json) first: an unknown key, a wrong type or a value out of range is\n"
     "reported with its JSON pointer. Each step is the op4d command of the same name with the step's\n"
     "options. Input steps come first: synth is skipped when the store exists; import --resume keeps the\n"
     "frames already imported. Per-frame steps then run one frame at a time, series steps after them.\n"
     "Resume: every finished unit (step on a frame, or series step) is recorded in CAMPAIGN.h5.journal\n"
     "under the hash of op4d's version, the step's options and its input frames; a run started again\n"
     "(after a crash, a kill, or to add frames) skips those units and redoes the rest. One line per unit\n"
     "with the step's and the overall ETA goes to stdout and, with UTC times, to the log file. The run is\n"
     "recorded in the store as series table pipeline_run (seconds per unit) with the effective pipeline.\n"
     "  --store FILE             the campaign store (created by a synth or import step if absent)\n"
     "  --frames A:B             frames for the per-frame steps (default all); or a single frame K\n"
     "  --force                  redo the selected frames and the series steps even if done before\n"
     "  --manifest FILE          batch replay: the manifest of an archive, for an import step without one\n"
     "  --follow                 live follow: after a pass, wait for frames an acquisition appends\n"
     "                           (op4d import ... --append --wait-lock S) and process them\n"
     "  --idle S                 follow: stop after S seconds without a new frame (default 60)\n"
     "  --poll S                 follow: look for new frames every S seconds (default 1)\n"
     "  --jobs N                 frames in parallel: up to N child runs, each on its own copy of the store\n"
     "                           (frame ranges), merged when done; --threads is then per job\n"
     "  --memory GB              memory budget of the jobs (default 80 % of MemAvailable): fewer jobs run\n"
     "                           when a frame job (about 100 bytes per voxel of a frame) would not fit\n"
     "  --no-series              per-frame steps only (a scale-out part; see op4d merge)\n"
     "  --log FILE               run log (default CAMPAIGN.h5.log, appended)\n"
     "  --threads N              worker threads\n"
     "  --quiet                  no progress output from the steps\n"},
    {"geometry",
     "usage: op4d geometry INPUT [options]\n"
     "Geometric descriptors of labelled frames (0 pore, 1 active, 2 binder): volume and percolating\n"
     "fractions (pore 26-, solids 6-connected), interface areas a_s by marching tetrahedra with the\n"
     "face count beside them, local-thickness size distribution of each phase, active particles by\n"
     "watershed (sizes, shapes, orientation), active-binder contact area with E_adh = G_c A and\n"
     "F_max = T_max A, per particle too. INPUT is a campaign store (tables in each frame's results) or\n"
     "a labelled volume op4d imports.\n"
     "  --labels                 store frames hold phase labels (otherwise grey frames are segmented)\n"
     "  --method M               segmentation: multi-otsu (default), gmm, nlm+gmm\n"
     "  --thickness PHASES       local thickness of these phases only, comma-separated (default all)\n"
     "  --no-particles           skip the particle separation (and per-particle contacts)\n"
     "  --gc J_PER_M2            adhesion energy G_c (default 0)\n"
     "  --tmax PA                adhesion strength T_max (default 0)\n"
     "  --ensemble N             also every descriptor on the first N label samples op4d segment --ensemble\n"
     "                           stored (same --method): tables <table>_ensemble beside volume_fractions,\n"
     "                           percolation, interface_areas, thickness_distribution, particle_size_summary\n"
     "                           and contacts, every column with _mean, _sd, _p05, _p95\n"
     "  --frames A:B             store frames A..B-1 (default all); or a single frame K\n"
     "  --spacing Z Y X          voxel size in um (volume input; overrides the file)\n"
     "  --out DIR                write every table as CSV into DIR\n"
     "  --threads N              worker threads\n"
     "  --quiet                  no progress output\n"},
    {"large-frame",
     "usage: op4d large-frame CAMPAIGN.h5 [--frame K] [--slab N] [--phases SPEC] [--psf S] [--scratch DIR]\n"
     "                        [--threads N] [--quiet]\n"
     "One frame too large to hold in memory, analysed block by block (slabs of N planes read from the\n"
     "store by hyperslab): the nlm+gmm segmentation (non-local means, tied Gaussian mixture,\n"
     "partial-volume correction, forward-model refinement, islands below --islands voxels removed, as\n"
     "op4d segment --method nlm+gmm), phase fractions, connected components and percolation of every phase (pore\n"
     "26-, solids 6-connected) and the interface areas a_s (marching tetrahedra). The results are those\n"
     "of the whole-volume kernels, bit for bit; memory is a few slabs of planes (measured on 2048^3 at\n"
     "--slab 64: components 1.6 GB, areas 6.1 GB; bench/RESULTS.md), and the scratch directory holds\n"
     "3 bytes per voxel of a uint16 frame meanwhile.\n"
     "Stored in the frame's results: the volume labels_blockwise and the tables fractions_blockwise,\n"
     "percolation_blockwise, interface_areas_blockwise and blockwise_steps (seconds per step).\n"
     "  --frame K                the frame (default 0)\n"
     "  --slab N                 planes per slab (default 64)\n"
     "  --phases SPEC            phase table, phases darkest first (as op4d segment)\n"
     "  --psf S                  PSF sigma of the refinement in voxels, 0 = no refinement (default 0.6)\n"
     "  --islands N              island clean-up below N voxels (default 27, 0 = none)\n"
     "  --scratch DIR            directory for the scratch files (default /tmp)\n"
     "  --threads N              worker threads\n"
     "  --quiet                  no progress output\n"},
    {"tortuosity",
     "usage: op4d tortuosity INPUT [options]\n"
     "Steady diffusion through one phase by finite volumes (c = 1 and 0 on the two faces normal to each\n"
     "axis, no flux elsewhere): D_eff/D_bulk and tau = eps D_bulk / D_eff per axis, eps the phase's total\n"
     "volume fraction. INPUT is a campaign store (table tortuosity in each frame's results) or any volume\n"
     "op4d imports (a labelled TIFF, MHA, ...).\n"
     "  --value V                the input holds labels; the phase = voxels equal to V (e.g. 0 for pore)\n"
     "  --phase NAME             otherwise segment grey frames and use this phase of the phase table: pore\n"
     "                           (default), active, binder in the electrode's\n"
     "  --method M               segmentation: multi-otsu (default), gmm, nlm+gmm\n"
     "  --phases SPEC            phase table of grey frames, darkest first (as for segment; e.g.\n"
     "                           pore=0:pore,solid=1:active)\n"
     "  --axes AXES              driving directions, any of z, y, x (default zyx)\n"
     "  --tolerance T            relative residual of the solve (default 1e-8)\n"
     "  --jacobi                 Jacobi-preconditioned CG instead of multigrid (the baseline)\n"
     "  --ensemble N             also tau, D_eff and the percolating fraction on the first N label samples that\n"
     "                           op4d segment --ensemble stored (same --method): table tortuosity_ensemble, per axis\n"
     "                           the point value with _mean, _sd, _p05, _p95 (a non-percolating sample: tau inf)\n"
     "  --frames A:B             store frames A..B-1 (default all); or a single frame K\n"
     "  --spacing Z Y X          voxel size in um (volume input; overrides the file)\n"
     "  --out DIR                write DIR/<stem>_tortuosity.csv\n"
     "  --field                  and DIR/<stem>_c_<axis>.vti, the concentration field (ParaView; NaN outside the phase)\n"
     "  --threads N              worker threads\n"
     "  --quiet                  no progress output\n"},
    {"register",
     "usage: op4d register CAMPAIGN.h5 [options]\n"
     "Registers frames to the reference frame and stores the motion in each frame's results: table\n"
     "registration (F, t, det F, grey residual before/after, converged), and with elastix the J = det F\n"
     "field (volume J) and table strain_summary; series table registration_series. F maps the\n"
     "reference to frame k (J > 1 = expansion).\n"
     "  --method M               rigid, affine (default; ITK, in-process) or elastix (affine + B-spline)\n"
     "  --strategy S             total (each frame to the reference, default) or incremental (k to k-1, composed)\n"
     "  --reference K            reference frame (default 0)\n"
     "  --frames A:B             frames A..B-1 (default all); or a single frame K\n"
     "  --grid-spacing UM        elastix B-spline control-point spacing in um (default 8)\n"
     "  --iterations N           iterations per resolution (default: 200 rigid/affine, 500 elastix)\n"
     "  --metric M               mean-squares (default) or mutual-information\n"
     "  --stride N               store the J field every N voxels (default 2)\n"
     "  --tensors                elastix: also store E_zz..E_yx (Green-Lagrange) and stretch_1..3 volumes\n"
     "  --particles              also fit F per particle (reference segmented, watershed) and match\n"
     "                           the reference particles to each frame's own (identity): table\n"
     "                           particle_kinematics per frame, particle_labels in the reference frame\n"
     "  --particle-contact UM    per-particle fits leave out voxels within UM of another particle\n"
     "                           (default 0: keep them; 1 with well-separated labels at >= 10 voxels per\n"
     "                           particle radius, see bench/RESULTS.md)\n"
     "  --particle-smooth UM     per-particle fits smooth both frames first, Gaussian sigma in um (default 0)\n"
     "  --particle-model M       affine (default): a general F per particle; similarity: isotropic scale,\n"
     "                           rotation and translation (swelling particles; better conditioned)\n"
     "  --particle-interpolation I  how per-particle fits sample the current frame: cubic (default; the\n"
     "                           cubic B-spline) or linear (trilinear: biased near whole-voxel drifts)\n"
     "  --segment M              how frames are segmented for --particles when the segment step did not\n"
     "                           store labels with M: multi-otsu (default), gmm or nlm+gmm\n"
     "  --watershed-h UM         particle separation: maxima less than UM above their saddle merge (default 0.2)\n"
     "  --match-distance UM      identity: a reference particle farther than UM from every particle of\n"
     "                           frame k (after the centroid ICP) is lost (default 2)\n"
     "  --out DIR                write DIR/frame_<k>_J.vti (ParaView) and DIR/registration_series.csv\n"
     "  --threads N              worker threads\n"
     "  --quiet                  no progress output\n"},
    {"throats",
     "usage: op4d throats CAMPAIGN.h5 --gamma N_PER_M [options]\n"
     "Extracts the pore network of the reference frame, carries every throat into every frame with the\n"
     "frame's registration (run op4d register first; identity otherwise), measures its radius on the\n"
     "frame's distance transform and applies the Young-Laplace rule: open when r > r_min and\n"
     "p_app < 2 gamma |cos theta| / r (p_app_Pa from the time table). Stores throat_frames,\n"
     "throat_history, percolation_summary and throat_radii as series tables.\n"
     "  --gamma N_PER_M          surface tension of the electrolyte, N/m (required)\n"
     "  --theta DEG              contact angle, degrees (default 0)\n"
     "  --r-min UM               throats this narrow or narrower are closed, um (default 0)\n"
     "  --tolerance UM           search radius around each carried path point, um (default 0)\n"
     "  --reference K            reference frame (default 0)\n"
     "  --pore-value V           frames hold labels; pore = V (otherwise segmented, --method)\n"
     "  --method M               multi-otsu (default), gmm, nlm+gmm\n"
     "  --phases SPEC            phase table, darkest first (as for op4d segment)\n"
     "  --check-truth            compare with a synthetic lattice campaign's truth (CAMPAIGN.truth.h5):\n"
     "                           events found and invented, percolation per frame; series table\n"
     "                           throat_truth_check\n"
     "  --reextract              also extract every frame's network and match its throats to the carried\n"
     "                           reference throats: births, deaths and lost throats per frame (series\n"
     "                           table throat_births_deaths)\n"
     "  --out DIR                CSV tables and DIR/throat_history.vtp (radius_<k>, open_<k> per frame)\n"
     "  --ensemble N             also measure every frame's throats on its first N label samples (op4d segment\n"
     "                           --ensemble, same --method): series tables throat_open_probability (per throat and\n"
     "                           frame), throat_frames_ensemble (P(percolates) = percolates_mean, open throats\n"
     "                           with _p05/_p95) and percolation_summary_ensemble\n"
     "  --threads N              worker threads\n"
     "  --quiet                  no progress output\n"},
    {"degradation",
     "usage: op4d degradation CAMPAIGN.h5 [options]   (after op4d register --particles)\n"
     "Damage across cycles: every reference particle carried into each frame by its own fitted motion\n"
     "(particle_kinematics) and read there for a crack (non-active voxels deep inside it), fragments\n"
     "(separate active pieces, identities kept through frames) and its binder contact. Stores per frame\n"
     "particle_damage and fragments; series damage_events (crack, fragmentation and debonding onsets\n"
     "per particle, with cycles), damage_series, cycle_statistics (each cycle's frame at the chosen\n"
     "state: porosity, a_s, tau_z, sigma_eff_z, contacts, open throats where those steps ran, and the\n"
     "damage counts) and cycle_drift (slope per cycle with its 95 % interval). Cycles come from the\n"
     "time table's cycle column, else from current_A sign changes (said so).\n"
     "  --method M               segmentation whose stored labels are read (default multi-otsu)\n"
     "  --phases SPEC            phase table of the grey frames, darkest first (as for segment)\n"
     "  --frames A:B             frames (default all)\n"
     "  --reference K            reference frame (default 0)\n"
     "  --state S                discharge (default: each cycle's last frame) or charge (its frame of\n"
     "                           highest soc_ref)\n"
     "  --interior VOX           crack voxels must lie this deep in the particle (default 2)\n"
     "  --crack-min N            a crack holds at least N voxels (default 30) and 1 % of the interior\n"
     "  --fragment-min F         a fragment holds at least this share of the particle (default 0.03)\n"
     "  --debond-drop F          debonding: binder contact at each cycle's state frame below (1 - F)\n"
     "                           of the first cycle's, the fall beyond 2 sd (default 0.25)\n"
     "  --events                 instead: merge, split, vanish and birth events of the objects of the\n"
     "                           active-role phase between consecutive frames (bubbles of a foam: e.g.\n"
     "                           --phases gas=0:active,liquid=1:pore): the watershed of each frame,\n"
     "                           matched by overlap through the register step's maps (identity without\n"
     "                           them). label_fates and event_labels per frame, series\n"
     "                           label_event_series. Needs no reference particles\n"
     "  --watershed-h UM         with --events: the watershed's h (default 0.2 um)\n"
     "  --continue-share F       with --events: an object continues into the one holding this share of\n"
     "                           it (default 0.5)\n"
     "  --threads N              worker threads (default: all cores)\n"
     "  --quiet                  no progress output\n"},
    {"soc",
     "usage: op4d soc CAMPAIGN.h5 [options]   (after op4d register --particles)\n"
     "SOC of every particle from its volumetric strain relative to the reference frame, with the\n"
     "linear law eps_v = k (theta - theta_ref) calibrated on the frames' SOC (time-table soc_ref, or\n"
     "coulomb counting of current_A), or given. Stores particle_soc and soc_summary per frame,\n"
     "soc_series and soc_calibration, and per frame the region map soc_map (each reference particle's\n"
     "voxels hold its SOC; NaN elsewhere).\n"
     "  --k K                    use this k instead of calibrating\n"
     "  --capacity AH            cell capacity for coulomb counting (when soc_ref is absent)\n"
     "  --soc0 S                 SOC at the first log row for coulomb counting (default 0)\n"
     "  --discharge-positive     the log's current is positive on discharge\n"
     "  --eps-std E              per-particle strain uncertainty, 1 sigma (default: each particle's\n"
     "                           Cramer-Rao bound from the register step, eps_v_crb)\n"
     "  --min-particle UM3       leave out particles smaller than this (default 0: watershed fragments\n"
     "                           and specks have noisy strains)\n"
     "  --include-border         also use particles cut by the field of view or drifting out of it\n"
     "                           (left out by default)\n"
     "  --reference K            reference frame (default 0)\n"},
    {"score",
     "usage: op4d score CAMPAIGN.h5 [--truth T.h5] [--require-pass] [--threads N] [--quiet]\n"
     "The truth scorecard: every stored result of the campaign against its ground truth (default\n"
     "CAMPAIGN.truth.h5, written by op4d synth), the truth counterparts computed by the same kernels on\n"
     "the truth labels: phase fractions and porosity, a_s pore|active, tau per axis, sigma_eff,\n"
     "particle count and identity, per-particle eps_v and SOC RMS and mean per frame, k, SOC outside\n"
     "[0, 1], throat closures and reopenings, percolation fraction. One row per quantity with its\n"
     "target and pass/fail; stored as the series table scorecard. Without a truth file beside the\n"
     "store (and no --truth) it says so and scores nothing.\n"
     "  --truth T.h5             ground-truth store\n"
     "  --require-pass           exit with status 1 when a row fails\n"
     "  --stored                 print the scorecard stored by an earlier run instead of scoring\n"
     "  --threads N              worker threads\n"
     "  --quiet                  no progress output\n"},
    {"demo",
     "usage: op4d demo [--dir DIR] [--frames N] [--threads N] [--quiet]\n"
     "The main job's campaign: writes the built-in synthetic operando campaign (op4d synth --built-in:\n"
     "120x160x160 voxels of 0.25 um, particle radius 4.5 um = 18 voxels, carried binder, SNR 10, two\n"
     "charge/discharge cycles in 7 frames, p_app 20-80 kPa) with its ground truth to DIR (default\n"
     "op4d-example). README command 1 then runs pipelines/operando.json on it, ending with the\n"
     "truth scorecard.\n"},
};

// --frames K or A:B (A..B-1); empty when absent.
std::vector<std::int64_t> Frames(const Args& a) {
  std::vector<std::int64_t> frames;
  if (!a.Has("frames")) return frames;
  const auto [lo, hi] = cli::FrameRange(a.String("frames"));
  for (std::int64_t k = lo; k < hi; ++k) frames.push_back(k);
  return frames;
}

ProgressStyle Style(const Args& a) { return a.Has("quiet") ? ProgressStyle::kOff : ProgressStyle::kAuto; }

ThreadBudget Threads(const Args& a) {
  const long long n = a.Int("threads", 0);
  if (n < 0 || n > 1024) throw ConfigError("--threads", "must be 0 (all cores) to 1024");
  return ThreadBudget{int(n)};
}

StoreOptions StoreOpts(const Args& a) {
  StoreOptions s;
  if (a.Has("codec")) s.codec = CodecFromString(a.String("codec"));
  s.level = int(a.Int("level", 1));
  if (auto c = a.IndexTriple("chunk")) s.chunk = *c;
  s.threads = Threads(a);
  std::string why;
  if (!s.IsValid(&why)) throw ConfigError("--level/--chunk", why);
  return s;
}

void PrintQuickLook(const std::vector<QuickLookRow>& rows, SegmentMethod method) {
  const bool truth = !rows.empty() && rows[0].truth.has_value();
  std::printf("%5s %9s %9s %9s %9s", "frame", "time_s", "voltage_V", "p_app_kPa", "porosity");
  if (truth) std::printf(" %9s", "(truth)");
  std::printf(" %9s", "active");
  if (truth) std::printf(" %9s", "(truth)");
  std::printf(" %9s", "binder");
  if (truth) std::printf(" %9s", "(truth)");
  std::printf("\n");
  for (const QuickLookRow& r : rows) {
    auto frac = [](const VolumeFractions& f, const char* n) {
      const PhaseFraction* p = f.Find(n);
      return p ? p->fraction : NAN;
    };
    std::printf("%5lld %9.1f %9.4f %9.1f %9.4f", static_cast<long long>(r.frame), r.time_s, r.voltage_V, r.p_app_Pa / 1e3,
                frac(r.measured, "pore"));
    if (truth) std::printf(" %9.4f", frac(*r.truth, "pore"));
    std::printf(" %9.4f", frac(r.measured, "active"));
    if (truth) std::printf(" %9.4f", frac(*r.truth, "active"));
    std::printf(" %9.4f", frac(r.measured, "binder"));
    if (truth) std::printf(" %9.4f", frac(*r.truth, "binder"));
    std::printf("\n");
  }
  std::printf("(volume fractions of the field of view, dimensionless; segmentation: %s)\n",
              method == SegmentMethod::kMultiOtsu        ? "multi-Otsu thresholds, grey value only"
              : method == SegmentMethod::kGaussianMixture ? "Gaussian mixture (EM), grey value only"
                                                          : "non-local means + tied Gaussian mixture + partial-volume correction");
}

// The options both synthetic campaigns take: seed, frames, spacing, rendering, drift, duration, type.
template <class Options>
void CommonSynthOpts(const Args& a, Options* o) {
  o->seed = std::uint64_t(a.Int("seed", std::int64_t(o->seed)));
  o->frames = int(a.Int("frames", o->frames));
  if (auto s = a.Triple("spacing")) o->spacing_um = *s;
  o->snr = a.Double("snr", o->snr);
  o->blur_sigma_vox = a.Double("blur", o->blur_sigma_vox);
  if (auto d = a.Triple("drift")) o->drift_um_per_frame = *d;
  o->duration_s = a.Double("duration", o->duration_s);
  if (a.Has("dtype")) o->dtype = DataTypeFromString(a.String("dtype"));
}

SynthOptions SynthOpts(const Args& a) {
  SynthOptions o = a.Has("built-in") ? SynthOptions::BuiltIn() : SynthOptions{};
  CommonSynthOpts(a, &o);
  if (auto s = a.IndexTriple("shape")) o.shape = *s;
  o.radius_um = a.Double("radius", o.radius_um);
  o.solid_fraction = a.Double("solid-fraction", o.solid_fraction);
  o.calendering = a.Double("calendering", o.calendering);
  o.binder_neck_um = a.Double("binder-neck", o.binder_neck_um);
  if (a.Has("binder")) {
    const std::string m = a.String("binder");
    if (m != "carried" && m != "regrow") throw ConfigError("--binder", "'" + m + "' is not carried or regrow");
    o.binder_carried = m == "carried";
  }
  o.strain_per_soc = a.Double("strain-per-soc", o.strain_per_soc);
  if (a.Has("soc")) {
    const auto v = a.Doubles("soc");
    o.soc_start = v[0];
    o.soc_end = v[1];
  }
  o.soc_gradient = a.Double("soc-gradient", o.soc_gradient);
  o.cycles = int(a.Int("cycles", o.cycles));
  o.charge_share = a.Double("charge-share", o.charge_share);
  o.crack_share = a.Double("crack-share", o.crack_share);
  o.fragment_share = a.Double("fragment-share", o.fragment_share);
  o.crack_width_um = a.Double("crack-width", o.crack_width_um);
  o.debond_share = a.Double("debond-share", o.debond_share);
  o.debond_loss = a.Double("debond-loss", o.debond_loss);
  o.debond_gap_um = a.Double("debond-gap", o.debond_gap_um);
  o.residual_strain_per_cycle = a.Double("residual-strain", o.residual_strain_per_cycle);
  if (a.Has("pressure")) {
    const auto v = a.Doubles("pressure");
    o.p_app_start_Pa = v[0];
    o.p_app_end_Pa = v[1];
  }
  std::string why;
  if (!o.IsValid(&why)) throw ConfigError("synth options", why);
  return o;
}

ThroatLatticeOptions LatticeOpts(const Args& a) {
  ThroatLatticeOptions o;
  CommonSynthOpts(a, &o);
  if (auto s = a.IndexTriple("bodies")) o.bodies = *s;
  o.pitch_um = a.Double("pitch", o.pitch_um);
  o.body_radius_um = a.Double("body-radius", o.body_radius_um);
  if (a.Has("throat-radii")) {
    const auto v = a.Doubles("throat-radii");
    o.wide_radius_um = v[0];
    o.narrow_radius_um = v[1];
  }
  o.narrow_share = a.Double("narrow-share", o.narrow_share);
  o.closure_share = a.Double("closure-share", o.closure_share);
  if (a.Has("design-law")) {
    const auto v = a.Doubles("design-law");
    o.design_gamma_N_per_m = v[0];
    o.design_theta_deg = v[1];
  }
  return o;
}

int CmdSynth(int argc, char** argv) {
  Args a("synth", argc, argv, 2,
         {{"out", 1}, {"seed", 1}, {"frames", 1}, {"times", 0}, {"shape", 3}, {"spacing", 3}, {"radius", 1},
          {"solid-fraction", 1}, {"calendering", 1}, {"binder-neck", 1}, {"binder", 1}, {"snr", 1}, {"blur", 1},
          {"strain-per-soc", 1}, {"soc", 2}, {"soc-gradient", 1}, {"drift", 3}, {"duration", 1}, {"pressure", 2},
          {"dtype", 1}, {"kind", 1}, {"bodies", 3}, {"pitch", 1}, {"body-radius", 1}, {"throat-radii", 2},
          {"narrow-share", 1}, {"closure-share", 1}, {"design-law", 2}, {"codec", 1}, {"level", 1}, {"chunk", 3},
          {"threads", 1}, {"overwrite", 0}, {"quiet", 0}, {"cycles", 1}, {"charge-share", 1}, {"built-in", 0},
          {"crack-share", 1}, {"fragment-share", 1}, {"crack-width", 1}, {"debond-share", 1}, {"debond-loss", 1},
          {"debond-gap", 1}, {"residual-strain", 1}});
  if (a.help()) return std::printf("%s", kHelp.at("synth").c_str()), 0;
  const std::string kind = a.String("kind", "particles");
  if (kind != "particles" && kind != "lattice") throw ConfigError("--kind", "'" + kind + "' is not particles or lattice");
  const bool lattice = kind == "lattice";
  for (const char* k : {"bodies", "pitch", "body-radius", "throat-radii", "narrow-share", "closure-share", "design-law"})
    if (!lattice && a.Has(k)) throw ConfigError(std::string("--") + k, "only for --kind lattice");
  for (const char* k : {"shape", "radius", "solid-fraction", "calendering", "binder-neck", "binder", "strain-per-soc", "soc",
                        "soc-gradient", "pressure", "cycles", "charge-share", "built-in", "crack-share", "fragment-share",
                        "crack-width", "debond-share", "debond-loss", "debond-gap", "residual-strain"})
    if (lattice && a.Has(k)) throw ConfigError(std::string("--") + k, "not an option of --kind lattice");
  std::vector<double> times;
  if (a.Has("times")) {
    for (const std::string& p : a.positional()) {
      char* end = nullptr;
      const double t = std::strtod(p.c_str(), &end);
      if (*end) throw ConfigError("--times", "'" + p + "' is not a time in seconds");
      times.push_back(t);
    }
  } else if (!a.positional().empty()) {
    throw ConfigError(a.positional()[0], "unexpected argument for 'op4d synth'");
  }
  const std::string out = a.Required("out");
  if (lattice) {
    ThroatLatticeOptions o = LatticeOpts(a);
    if (!times.empty()) {
      o.frame_times_s = times;
      if (!a.Has("frames")) o.frames = int(times.size());
    }
    std::string why;
    if (!o.IsValid(&why)) throw ConfigError("synth options", why);
    const SynthSummary s = WriteThroatLatticeCampaign(o, out, StoreOpts(a), a.Has("overwrite"), Style(a));
    const SynthThroatLattice l(o);
    std::printf("wrote %s: %d frames %lldx%lldx%lld (%s), a %lldx%lldx%lld lattice of pore bodies, %zu throats\n", out.c_str(),
                s.frames, static_cast<long long>(l.shape()[0]), static_cast<long long>(l.shape()[1]),
                static_cast<long long>(l.shape()[2]), ToString(o.dtype), static_cast<long long>(o.bodies[0]),
                static_cast<long long>(o.bodies[1]), static_cast<long long>(o.bodies[2]), s.throats);
    std::printf("ground truth: %s\n", s.truth_path.c_str());
    return 0;
  }
  SynthOptions o = SynthOpts(a);
  if (!times.empty()) {
    o.frame_times_s = times;
    if (!a.Has("frames")) o.frames = int(times.size());
    std::string why;
    if (!o.IsValid(&why)) throw ConfigError("--times", why);
  }
  const SynthSummary s = WriteSynthCampaign(o, out, StoreOpts(a), a.Has("overwrite"), Style(a));
  std::printf("wrote %s: %d frames %lldx%lldx%lld (%s), %zu particles (packing solid fraction %.3f), %zu throats\n",
              out.c_str(), s.frames, static_cast<long long>(o.shape[0]), static_cast<long long>(o.shape[1]),
              static_cast<long long>(o.shape[2]), ToString(o.dtype), s.particles, s.achieved_solid_fraction, s.throats);
  std::printf("ground truth: %s\n", s.truth_path.c_str());
  if (o.cycles >= 2 && (s.damaged > 0 || o.residual_strain_per_cycle != 0)) {
    // The truth's own per-cycle porosity, tau_z and sigma_eff_z, for the degradation step's drift.
    TruthCycleOptions to;
    to.threads = Threads(a);
    to.progress = Style(a);
    const TruthCycles t = WriteTruthCycles(s.truth_path, out, to);
    const ResultColumn& tau = *t.cycles.Find("tau_z");
    std::printf("truth per cycle (end of discharge): %zu cycles, tau_z %.4f -> %.4f (cycle_truth in %s)\n", t.cycles.rows(),
                tau.values.front(), tau.values.back(), s.truth_path.c_str());
  }
  return 0;
}

int CmdImport(int argc, char** argv) {
  Args a("import", argc, argv, 2,
         {{"store", 1}, {"manifest", 1}, {"spacing", 3}, {"format", 1}, {"shape", 3}, {"dtype", 1}, {"big-endian", 0},
          {"header-bytes", 1}, {"dataset", 1}, {"time-step", 1}, {"codec", 1}, {"level", 1}, {"chunk", 3},
          {"append", 0}, {"overwrite", 0}, {"resume", 0}, {"wait-lock", 1}, {"threads", 1}, {"quiet", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("import").c_str()), 0;
  CampaignImportOptions o;
  o.input.format = InputFormatFromString(a.String("format", "auto"));
  o.input.spacing_um = a.Triple("spacing");
  if (auto s = a.IndexTriple("shape")) o.input.raw.shape = *s;
  if (a.Has("dtype")) o.input.raw.dtype = DataTypeFromString(a.String("dtype"));
  o.input.raw.big_endian = a.Has("big-endian");
  o.input.raw.header_bytes = std::uint64_t(a.Int("header-bytes", 0));
  o.input.dataset = a.String("dataset");
  o.time_step_s = a.Double("time-step", 1.0);
  o.store = StoreOpts(a);
  o.append = a.Has("append");
  o.resume = a.Has("resume");
  if (o.resume && !a.Has("manifest")) throw ConfigError("--resume", "only with --manifest");
  if (a.Has("wait-lock")) SetWriterLockWait(a.Double("wait-lock", 0));
  o.overwrite = a.Has("overwrite");
  o.progress = Style(a);
  const std::string store = a.Required("store");
  ImportSummary s;
  if (a.Has("manifest")) {
    if (!a.positional().empty()) throw ConfigError(a.positional()[0], "give either input files or --manifest, not both");
    s = ImportManifest(a.String("manifest"), store, o);
  } else {
    if (a.positional().empty()) throw ConfigError("INPUT", "no input given (see op4d import --help)");
    s = ImportFiles(a.positional(), store, o);
  }
  for (const std::string& n : s.notes) std::printf("  %s\n", n.c_str());
  std::printf("imported %lld frame(s) into %s (%lld in total)\n", static_cast<long long>(s.frames_added), store.c_str(),
              static_cast<long long>(s.frames_total));
  return 0;
}

int CmdInfo(int argc, char** argv) {
  Args a("info", argc, argv, 2, {{"time", 0}, {"digest", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("info").c_str()), 0;
  if (a.positional().size() != 1) throw ConfigError("CAMPAIGN.h5", "give exactly one store (see op4d info --help)");
  const FrameStore s = FrameStore::OpenRead(a.positional()[0]);
  if (a.Has("digest")) {
    std::string all;
    for (const ResultDigest& d : DigestResults(s)) {
      std::printf("%s  %s\n", d.hash.c_str(), d.item.c_str());
      all += d.hash + d.item;
    }
    std::printf("%s  all results\n", Fnv1aHex(all).c_str());
    return 0;
  }
  std::printf("campaign %s\n", s.path().c_str());
  std::printf("frames: %lld\n", static_cast<long long>(s.frame_count()));
  if (const auto l = s.layout()) {
    std::printf("frame: %s, %s, codec %s, chunks %lldx%lldx%lld\n", l->geometry.ToString().c_str(), ToString(l->dtype),
                ToString(l->codec), static_cast<long long>(l->chunk[0]), static_cast<long long>(l->chunk[1]),
                static_cast<long long>(l->chunk[2]));
    std::printf("origin: (%g, %g, %g) um\n", l->geometry.origin_um[0], l->geometry.origin_um[1], l->geometry.origin_um[2]);
    if (l->phases) std::printf("phases: %s\n", l->phases->ToSpec().c_str());
  }
  const TimeTable tt = s.ReadTimeTable();
  std::printf("time table (%lld rows):\n", static_cast<long long>(tt.rows()));
  std::printf("  %5s", "frame");
  for (const auto& c : tt.columns) std::printf(" %14s", c.name.c_str());
  std::printf("\n");
  for (std::int64_t r = 0; r < tt.rows(); ++r) {
    if (!a.Has("time") && tt.rows() > 6 && r == 3) {
      std::printf("  %5s\n", "...");
      r = tt.rows() - 3;
    }
    std::printf("  %5lld", static_cast<long long>(r));
    for (const auto& v : tt.values) std::printf(" %14.6g", v[std::size_t(r)]);
    std::printf("\n");
  }
  std::map<std::string, int> tables, volumes;
  for (std::int64_t k = 0; k < s.frame_count(); ++k) {
    for (const std::string& t : s.ListFrameTables(k)) ++tables[t];
    for (const std::string& v : s.ListFrameVolumes(k)) ++volumes[v];
  }
  std::printf("per-frame results:");
  if (tables.empty() && volumes.empty()) std::printf(" none");
  for (const auto& [n, c] : tables) std::printf(" %s (table, %d frames)", n.c_str(), c);
  for (const auto& [n, c] : volumes) std::printf(" %s (volume, %d frames)", n.c_str(), c);
  std::printf("\nseries results:");
  const auto series = s.ListSeriesTables();
  if (series.empty()) std::printf(" none");
  for (const std::string& n : series) std::printf(" %s", n.c_str());
  std::printf("\n");
  return 0;
}

int CmdExport(int argc, char** argv) {
  Args a("export", argc, argv, 2,
         {{"out", 1}, {"frame", 1}, {"region", 6}, {"volume", 1}, {"table", 1}, {"series", 1}, {"time-table", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("export").c_str()), 0;
  if (a.positional().size() != 1) throw ConfigError("CAMPAIGN.h5", "give exactly one store (see op4d export --help)");
  const FrameStore s = FrameStore::OpenRead(a.positional()[0]);
  const std::string out = a.Required("out");
  const std::int64_t k = a.Int("frame", 0);
  if (a.Has("time-table")) {
    const TimeTable tt = s.ReadTimeTable();
    ResultTable t{"time", {}};
    for (std::size_t c = 0; c < tt.columns.size(); ++c) t.columns.push_back({tt.columns[c].name, tt.columns[c].unit, tt.values[c]});
    WriteCsv(out, t);
  } else if (a.Has("series")) {
    WriteCsv(out, s.ReadSeriesTable(a.String("series")));
  } else if (a.Has("table")) {
    WriteCsv(out, s.ReadFrameTable(k, a.String("table")));
  } else if (a.Has("volume")) {
    WriteVolume(out, s.ReadFrameVolume(k, a.String("volume")), a.String("volume"));
  } else {
    AnyVolume v;
    if (a.Has("region")) {
      const auto r = a.Doubles("region");
      Box b{{std::int64_t(r[0]), std::int64_t(r[1]), std::int64_t(r[2])}, {std::int64_t(r[3]), std::int64_t(r[4]), std::int64_t(r[5])}};
      v = s.ReadRegion(k, b);
    } else {
      v = s.ReadFrame(k);
    }
    WriteVolume(out, v, "grey");
  }
  std::printf("wrote %s\n", out.c_str());
  return 0;
}

// --phases SPEC: the phase table of a grey campaign, its phases listed darkest first (the intensity
// classes of the segmentation in that order), e.g. pore=0:pore,solid=1:active for two phases.
// --psf S: the forward-model refinement's PSF sigma in voxels, 0 = no refinement.
void PsfOption(const Args& a, ForwardModelOptions* refine) {
  if (!a.Has("psf")) return;
  const double psf = a.Double("psf", 0);
  if (psf == 0)
    refine->max_sweeps = 0;
  else if (psf > 0 && psf <= 3)
    refine->psf_sigma_vox = {psf, psf, psf};
  else
    throw ConfigError("--psf", "the PSF sigma must be in (0, 3] voxels, or 0 for no refinement; got " + a.String("psf"));
}

void PhasesOption(const Args& a, QuickLookOptions* q) {
  if (!a.Has("phases")) return;
  try {
    q->phases = PhaseTable::FromSpec(a.String("phases"));
  } catch (const ConfigError& e) {
    throw ConfigError("--phases", e.what());
  }
  std::string why;
  if (!q->phases.IsValid(&why)) throw ConfigError("--phases", why);
  q->class_labels.clear();
  for (const Phase& p : q->phases.phases()) q->class_labels.push_back(p.label);
}

int CmdQuickLook(int argc, char** argv) {
  Args a("quicklook", argc, argv, 2, {{"method", 1}, {"truth", 1}, {"bins", 1}, {"frames", 1}, {"threads", 1}, {"quiet", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("quicklook").c_str()), 0;
  if (a.positional().size() != 1) throw ConfigError("CAMPAIGN.h5", "give exactly one store (see op4d quicklook --help)");
  QuickLookOptions o;
  o.method = SegmentMethodFromString(a.String("method", "multi-otsu"));
  o.truth_path = a.String("truth");
  o.bins = int(a.Int("bins", 256));
  o.frames = Frames(a);
  o.threads = Threads(a);
  o.progress = Style(a);
  PrintQuickLook(RunQuickLook(a.positional()[0], o), o.method);
  return 0;
}

QuickLookOptions SegmentOptions(const Args& a);

// --ensemble N of the steps that read the segment step's label samples: 0 when absent, N >= 2.
int EnsembleOption(const Args& a) {
  const int n = int(a.Int("ensemble", 0));
  if (a.Has("ensemble") && n < 2) throw ConfigError("--ensemble", "an ensemble needs at least 2 samples, got " + a.String("ensemble"));
  return n;
}

// One line of an ensemble table: metric M's point value and its 5-95 % interval over the samples.
void PrintBand(const std::string& what, const ResultTable& t, std::size_t row, const std::string& metric, const std::string& unit) {
  auto v = [&](const std::string& c) { return t.Find(c)->values[row]; };
  std::printf("%s %s %.6g%s%s, 5-95 %% %.6g to %.6g over %d label samples (mean %.6g, sd %.3g)\n", what.c_str(),
              metric.c_str(), v(metric), unit.empty() ? "" : " ", unit.c_str(), v(metric + "_p05"), v(metric + "_p95"),
              int(v("samples")), v(metric + "_mean"), v(metric + "_sd"));
}

int CmdConductivity(int argc, char** argv) {
  Args a("conductivity", argc, argv, 2,
         {{"sigma-active", 1}, {"sigma-binder", 1}, {"contact-resistance", 1}, {"axes", 1}, {"method", 1}, {"tolerance", 1},
          {"frames", 1}, {"ensemble", 1}, {"threads", 1}, {"quiet", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("conductivity").c_str()), 0;
  if (a.positional().size() != 1) throw ConfigError("CAMPAIGN.h5", "give exactly one store (see op4d conductivity --help)");
  ConductivityRunOptions o;
  o.segment = SegmentOptions(a);
  o.sigma_active_S_per_m = a.Double("sigma-active", 1.0);
  o.sigma_binder_S_per_m = a.Double("sigma-binder", 100.0);
  o.contact_resistance_ohm_m2 = a.Double("contact-resistance", 0.0);
  o.axes = a.String("axes", "z");
  o.solver.tolerance = a.Double("tolerance", 1e-8);
  o.solver.threads = Threads(a);
  o.frames = Frames(a);
  o.progress = Style(a);
  o.ensemble = EnsembleOption(a);
  const std::string store = a.positional()[0];
  for (const auto& [k, t] : RunConductivity(store, o)) {
    const ResultColumn* axis = t.Find("axis");
    const ResultColumn* s = t.Find("sigma_eff");
    const ResultColumn* share = t.Find("contact_power_share");
    for (std::size_t r = 0; r < t.rows(); ++r)
      std::printf("frame %lld: axis %c  sigma_eff %.6g S/m  (%.4g of sigma_active)  contact power share %.4f\n", static_cast<long long>(k),
                  "zyx"[int(axis->values[r])], s->values[r], s->values[r] / o.sigma_active_S_per_m, share->values[r]);
    if (o.ensemble) {
      const ResultTable e = FrameStore::OpenRead(store).ReadFrameTable(k, "conductivity_ensemble");
      for (std::size_t r = 0; r < e.rows(); ++r)
        PrintBand("frame " + std::to_string(k) + ": axis " + "zyx"[int(e.Find("axis")->values[r])], e, r, "sigma_eff", "S/m");
    }
  }
  return 0;
}

int CmdSegment(int argc, char** argv) {
  Args a("segment", argc, argv, 2,
         {{"method", 1}, {"bins", 1}, {"phases", 1}, {"frames", 1}, {"no-probabilities", 0}, {"threads", 1}, {"quiet", 0},
          {"nlm-h", 1}, {"nlm-sigma", 1}, {"nlm-patch", 1}, {"nlm-search", 1}, {"psf", 1}, {"smoothness", 1},
          {"islands", 1}, {"clean-up", 1}, {"ensemble", 1}, {"ensemble-temperature", 1}, {"ensemble-seed", 1}, {"ensemble-grey-jitter", 1},
          {"ensemble-jitter-correlation", 1}});
  if (a.help()) return std::printf("%s", kHelp.at("segment").c_str()), 0;
  if (a.positional().size() != 1) throw ConfigError("CAMPAIGN.h5", "give exactly one store (see op4d segment --help)");
  QuickLookOptions o;
  o.method = SegmentMethodFromString(a.String("method", "multi-otsu"));
  o.bins = int(a.Int("bins", 256));
  PhasesOption(a, &o);
  // The nlm+gmm chain's tuning, checked here so that a bad value is named before any frame is touched.
  for (const char* key : {"nlm-h", "nlm-sigma", "nlm-patch", "nlm-search", "psf", "smoothness", "islands"})
    if (a.Has(key) && o.method != SegmentMethod::kNlmGmm)
      throw ConfigError(std::string("--") + key, "tunes the nlm+gmm chain; give --method nlm+gmm");
  o.nlm.h_factor = a.Double("nlm-h", o.nlm.h_factor);
  o.nlm.sigma = a.Double("nlm-sigma", o.nlm.sigma);
  o.nlm.patch_radius_um = a.Double("nlm-patch", o.nlm.patch_radius_um);
  o.nlm.search_radius_um = a.Double("nlm-search", o.nlm.search_radius_um);
  std::string why;
  if (!o.nlm.IsValid(&why)) {  // the kernel's own check, reported under the option that set the field
    for (const auto& [field, key] : {std::pair{"h_factor", "--nlm-h"}, {"sigma", "--nlm-sigma"},
                                     {"patch_radius_um", "--nlm-patch"}, {"search_radius_um", "--nlm-search"}})
      if (why.rfind(field, 0) == 0) throw ConfigError(key, why + ", got " + a.String(key + 2));
    throw ConfigError("nlm", why);
  }
  PsfOption(a, &o.refine);
  o.refine.smoothness = a.Double("smoothness", o.refine.smoothness);
  if (!(o.refine.smoothness >= 0)) throw ConfigError("--smoothness", "must be >= 0, got " + a.String("smoothness"));
  o.min_island_voxels = a.Int("islands", o.min_island_voxels);
  if (o.min_island_voxels < 0) throw ConfigError("--islands", "must be >= 0 voxels, got " + a.String("islands"));
  if (a.Has("clean-up")) {
    o.clean_up = PhaseCleanUpsFromSpec(a.String("clean-up"), "--clean-up");
    for (const PhaseCleanUp& c : o.clean_up)
      if (!o.phases.FindName(c.phase))
        throw ConfigError("--clean-up", "no phase named '" + c.phase + "' in " + o.phases.ToSpec());
  }
  if (a.Has("ensemble")) {
    o.ensemble = int(a.Int("ensemble", 0));
    if (o.ensemble < 2) throw ConfigError("--ensemble", "an ensemble needs at least 2 samples, got " + a.String("ensemble"));
    if (o.method == SegmentMethod::kMultiOtsu)
      throw ConfigError("--ensemble", "multi-Otsu has no posterior to sample: give --method gmm or nlm+gmm");
  }
  for (const char* key : {"ensemble-temperature", "ensemble-seed", "ensemble-grey-jitter", "ensemble-jitter-correlation"})
    if (a.Has(key) && o.ensemble == 0) throw ConfigError(std::string("--") + key, "tunes the label ensemble; give --ensemble N");
  o.ensemble_temperature = a.Double("ensemble-temperature", 1.0);
  if (!(o.ensemble_temperature > 0) || !std::isfinite(o.ensemble_temperature))
    throw ConfigError("--ensemble-temperature", "must be a finite number > 0, got " + a.String("ensemble-temperature"));
  o.ensemble_seed = std::uint64_t(a.Int("ensemble-seed", 1));
  o.ensemble_grey_jitter = a.Double("ensemble-grey-jitter", kCalibratedGreyJitter);
  if (!(o.ensemble_grey_jitter >= 0) || !std::isfinite(o.ensemble_grey_jitter))
    throw ConfigError("--ensemble-grey-jitter", "must be a finite number >= 0, got " + a.String("ensemble-grey-jitter"));
  o.ensemble_jitter_correlation = a.Double("ensemble-jitter-correlation", kCalibratedJitterCorrelation);
  if (!(o.ensemble_jitter_correlation >= 0 && o.ensemble_jitter_correlation <= 1))
    throw ConfigError("--ensemble-jitter-correlation", "must be in [0, 1], got " + a.String("ensemble-jitter-correlation"));
  o.frames = Frames(a);
  o.threads = Threads(a);
  o.progress = Style(a);
  const std::vector<QuickLookRow> rows = RunSegment(a.positional()[0], o, !a.Has("no-probabilities"));
  for (const QuickLookRow& r : rows) {
    std::printf("frame %lld:", static_cast<long long>(r.frame));
    for (const PhaseFraction& p : r.measured.phases) std::printf(" %s %.4f", p.name.c_str(), p.fraction);
    std::printf(" (%s)\n", r.status.c_str());
    if (!r.outside_calibration.empty())
      std::printf("frame %lld: the ensemble's intervals are not calibrated error bars here (%s)\n",
                  static_cast<long long>(r.frame), r.outside_calibration.c_str());
  }
  std::printf("labels%s%s stored in each frame's results of %s\n", a.Has("no-probabilities") || o.method == SegmentMethod::kMultiOtsu ? "" : " and probability maps",
              o.ensemble ? " and the label ensemble's table segment_ensemble" : "", a.positional()[0].c_str());
  return 0;
}

// Segmentation options of a command that segments grey frames itself: --method, --threads, quietly.
QuickLookOptions SegmentOptions(const Args& a) {
  QuickLookOptions q;
  q.method = SegmentMethodFromString(a.String("method", "multi-otsu"));
  q.threads = Threads(a);
  q.progress = ProgressStyle::kOff;
  return q;
}

// Whether INPUT is a store (then --spacing is refused) or a volume (then --frames is refused).
bool StoreInput(const Args& a, const std::string& input) {
  if (FrameStore::IsCampaignStore(input)) {
    if (a.Has("spacing")) throw ConfigError("--spacing", "a store keeps its spacing; --spacing is for volume inputs");
    return true;
  }
  if (a.Has("frames")) throw ConfigError("--frames", "only for a store input");
  return false;
}

// The first frame of a volume input, with --spacing applied.
AnyVolume ReadVolumeInput(const Args& a, const std::string& input) {
  ImportOptions io;
  io.spacing_um = a.Triple("spacing");
  return OpenInput(input, io)->ReadFrame(0);
}

void PrintFiles(const std::vector<std::string>& files) {
  for (const std::string& f : files) std::printf("  wrote %s\n", f.c_str());
}

void PrintNetworkSummary(const std::string& what, const ResultTable& s) {
  auto v = [&](const char* c) { return s.Find(c)->values[0]; };
  std::printf("%s: %.0f nodes, %.0f throats, mean coordination %.3f; loops graph %.0f / pore space %.0f, components "
              "%.0f / %.0f (%s); %.0f cavities filled, %.0f spurs trimmed, %.0f skeleton voxels\n",
              what.c_str(), v("nodes"), v("throats"), v("mean_coordination"), v("graph_loops"), v("pore_loops"),
              v("graph_components"), v("pore_components"),
              v("graph_loops") == v("pore_loops") && v("graph_components") == v("pore_components") ? "topology kept"
                                                                                                 : "TOPOLOGY DIFFERS",
              v("cavities_filled"), v("spurs_removed"), v("skeleton_voxels"));
}

void PrintGeometry(const std::string& what, const FrameGeometry& g) {
  std::printf("%s:", what.c_str());
  for (const PhaseFraction& f : g.fractions.phases) std::printf(" %s %.4f", f.name.c_str(), f.fraction);
  std::printf("\n");
  for (const InterfaceArea& a : g.interfaces)
    std::printf("  a_s %s|%s %.5f um^-1 (face count %.5f)\n", a.name_a.c_str(), a.name_b.c_str(), a.specific_area_per_um,
                a.face_count_specific_per_um);
  const ResultTable& t = g.thickness;
  for (std::size_t i = 0; i < t.rows(); ++i)
    std::printf("  local thickness of phase %d: median %.3f um (p10 %.3f, p90 %.3f)\n", int(t.Find("phase")->values[i]),
                t.Find("median")->values[i], t.Find("p10")->values[i], t.Find("p90")->values[i]);
  if (g.particle_sizes.rows())
    std::printf("  %d particles, median equivalent diameter %.3f um\n", int(g.particle_sizes.Find("particles")->values[0]),
                g.particle_sizes.Find("median_diameter")->values[0]);
  std::printf("  active-binder contact %.1f um^2 (%.5f um^-1), E_adh %.3g J, F_max %.3g N\n", g.contacts.area_um2,
              g.contacts.specific_area_per_um, g.contacts.adhesion_energy_J, g.contacts.max_force_N);
  auto name = [&](double label) {
    for (const PhaseFraction& f : g.fractions.phases)
      if (f.label == int(label)) return f.name;
    return std::to_string(int(label));
  };
  for (const ResultTable& e : g.ensemble) {
    auto v = [&](const char* c, std::size_t r) { return e.Find(c)->values[r]; };
    for (std::size_t r = 0; r < e.rows(); ++r) {
      if (e.name == "volume_fractions_ensemble") PrintBand("  " + name(v("label", r)), e, r, "volume_fraction", "");
      if (e.name == "interface_areas_ensemble")
        PrintBand("  a_s " + name(v("phase_a", r)) + "|" + name(v("phase_b", r)), e, r, "specific_area_per_um", "um^-1");
      if (e.name == "thickness_distribution_ensemble") PrintBand("  local thickness of " + name(v("phase", r)), e, r, "median", "um");
      if (e.name == "contacts_ensemble") PrintBand("  active-binder contact", e, r, "area_um2", "um^2");
      if (e.name == "particle_size_summary_ensemble") {
        PrintBand(" ", e, r, "particles", "");
        PrintBand(" ", e, r, "median_diameter", "um");
      }
    }
  }
}

int CmdLargeFrame(int argc, char** argv) {
  Args a("large-frame", argc, argv, 2,
         {{"frame", 1}, {"slab", 1}, {"phases", 1}, {"psf", 1}, {"islands", 1}, {"scratch", 1}, {"threads", 1}, {"quiet", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("large-frame").c_str()), 0;
  if (a.positional().size() != 1) throw ConfigError("CAMPAIGN.h5", "give exactly one store (see op4d large-frame --help)");
  LargeFrameOptions o;
  QuickLookOptions q;
  PhasesOption(a, &q);
  o.phases = q.phases;
  o.class_labels = q.class_labels;
  o.frame = a.Int("frame", 0);
  o.slab_z = a.Int("slab", 64);
  if (o.slab_z < 1) throw ConfigError("--slab", "must be >= 1 plane, got " + a.String("slab"));
  PsfOption(a, &o.refine);
  o.min_island_voxels = a.Int("islands", o.min_island_voxels);
  if (o.min_island_voxels < 0) throw ConfigError("--islands", "must be >= 0 voxels, got " + a.String("islands"));
  o.scratch_dir = a.String("scratch", "");
  o.threads = Threads(a);
  o.progress = Style(a);
  const std::string store = a.positional()[0];
  const LargeFrameResult r = AnalyseLargeFrame(store, o);
  const StreamedSegmentationReport& s = r.segmentation;
  std::printf("frame %lld, block-wise in slabs of %lld planes\n", static_cast<long long>(o.frame), static_cast<long long>(o.slab_z));
  std::printf("segmentation: NLM sigma %.4g (%s), mixture means", s.nlm.sigma, s.nlm.sigma_estimated ? "estimated" : "given");
  for (double m : s.model.means) std::printf(" %.5g", m);
  std::printf(" (%s); %lld partial-volume voxels, %lld relabelled by the forward model, %lld island voxels relabelled\n",
              s.model.message.c_str(), static_cast<long long>(s.partial_volume), static_cast<long long>(s.refined),
              static_cast<long long>(r.islands));
  std::int64_t total = 0;
  for (std::int64_t v : r.voxels) total += v;
  for (std::size_t i = 0; i < o.phases.phases().size(); ++i) {
    const LargeFrameResult::Percolation& p = r.percolation[i];
    std::printf("%-8s volume fraction %.4f, %lld components (%s-connected), spanning z/y/x %.4f %.4f %.4f\n",
                o.phases.phases()[i].name.c_str(), total ? double(r.voxels[i]) / double(total) : 0.0,
                static_cast<long long>(p.components), ToString(p.connectivity), p.spanning[0], p.spanning[1], p.spanning[2]);
  }
  for (const InterfaceArea& ar : r.areas)
    std::printf("a_s %s|%s %.6g um^-1 (%.6g um^2; voxel faces %.6g um^-1)\n", ar.name_a.c_str(), ar.name_b.c_str(),
                ar.specific_area_per_um, ar.area_um2, ar.face_count_specific_per_um);
  for (const auto& [step, sec] : r.seconds) std::printf("%s %.1f s\n", step.c_str(), sec);
  std::printf("stored in frame %lld's results of %s: labels_blockwise, fractions_blockwise, percolation_blockwise, "
              "interface_areas_blockwise, blockwise_steps\n", static_cast<long long>(o.frame), store.c_str());
  return 0;
}

int CmdGeometry(int argc, char** argv) {
  Args a("geometry", argc, argv, 2,
         {{"labels", 0}, {"method", 1}, {"thickness", 1}, {"no-particles", 0}, {"gc", 1}, {"tmax", 1}, {"frames", 1},
          {"spacing", 3}, {"out", 1}, {"ensemble", 1}, {"threads", 1}, {"quiet", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("geometry").c_str()), 0;
  if (a.positional().size() != 1) throw ConfigError("INPUT", "give exactly one store or volume (see op4d geometry --help)");
  const std::string input = a.positional()[0];
  GeometryRunOptions o;
  o.labels = a.Has("labels");
  o.segment = SegmentOptions(a);
  const std::string thick = a.String("thickness");
  for (std::size_t b = 0; !thick.empty() && b <= thick.size();) {
    const std::size_t e = std::min(thick.find(',', b), thick.size());
    o.thickness_phases.push_back(thick.substr(b, e - b));
    b = e + 1;
  }
  o.particles = !a.Has("no-particles");
  o.adhesion.adhesion_energy_J_per_m2 = a.Double("gc", 0);
  o.adhesion.adhesion_strength_Pa = a.Double("tmax", 0);
  o.threads = Threads(a);
  o.out_dir = a.String("out");
  o.progress = Style(a);
  o.ensemble = EnsembleOption(a);
  if (StoreInput(a, input)) {
    o.frames = Frames(a);
    for (const GeometryRunRow& r : RunGeometry(input, o)) {
      PrintGeometry("frame " + std::to_string(r.frame), r.geometry);
      PrintFiles(r.files);
    }
    return 0;
  }
  if (o.ensemble) throw ConfigError("--ensemble", "label samples live in a campaign store (op4d segment --ensemble N); " + input + " is a volume");
  const AnyVolume v = ReadVolumeInput(a, input);
  const auto* lab = std::get_if<Volume<std::uint8_t>>(&v);
  if (!lab) throw InvalidArgument(input + ": a labelled volume must be uint8 (0 pore, 1 active, 2 binder)");
  PhaseVolume phases(lab->geometry());
  std::copy(lab->data(), lab->data() + lab->size(), phases.data());
  const FrameGeometry g = DescribeFrame(phases, o);
  PrintGeometry(input, g);
  if (!o.out_dir.empty()) PrintFiles(WriteGeometryFiles(OutputStem(o.out_dir, std::filesystem::path(input).stem().string()), g));
  return 0;
}

void PrintTortuosity(const std::string& what, const ResultTable& t) {
  static const char* kAxis[3] = {"z", "y", "x"};
  for (std::size_t i = 0; i < t.rows(); ++i) {
    auto v = [&](const char* c) { return t.Find(c)->values[i]; };
    std::printf("%s: axis %s  eps %.4f  percolating %.4f  D_eff/D_bulk %.6f  tau %.5f  flux balance %.1e  %d iterations  %.2f s%s\n",
                what.c_str(), kAxis[int(v("axis"))], v("volume_fraction"), v("percolating_fraction"), v("d_eff_over_d_bulk"),
                v("tau"), v("flux_balance"), int(v("iterations")), v("seconds"), v("converged") > 0 ? "" : "  NOT CONVERGED");
  }
}

void PrintTortuosityEnsemble(const std::string& what, const ResultTable& t) {
  static const char* kAxis[3] = {"z", "y", "x"};
  for (std::size_t i = 0; i < t.rows(); ++i) {
    auto v = [&](const char* c) { return t.Find(c)->values[i]; };
    const std::string note =
        v("non_percolating") > 0 ? "  (" + std::to_string(int(v("non_percolating"))) + " samples do not percolate)" : "";
    std::printf("%s: axis %s  tau %.4f  over %d label samples: mean %.4f sd %.4f, 5-95 %% %.4f to %.4f; D_eff/D_bulk 5-95 %% %.5f to "
                "%.5f%s\n",
                what.c_str(), kAxis[int(v("axis"))], v("tau"), int(v("samples")), v("tau_mean"), v("tau_sd"), v("tau_p05"),
                v("tau_p95"), v("d_eff_over_d_bulk_p05"), v("d_eff_over_d_bulk_p95"), note.c_str());
  }
}

int CmdTortuosity(int argc, char** argv) {
  Args a("tortuosity", argc, argv, 2,
         {{"value", 1}, {"phase", 1}, {"method", 1}, {"axes", 1}, {"tolerance", 1}, {"jacobi", 0}, {"frames", 1},
          {"spacing", 3}, {"out", 1}, {"field", 0}, {"ensemble", 1}, {"phases", 1}, {"threads", 1}, {"quiet", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("tortuosity").c_str()), 0;
  if (a.positional().size() != 1) throw ConfigError("INPUT", "give exactly one store or volume (see op4d tortuosity --help)");
  const std::string input = a.positional()[0];
  TransportRunOptions o;
  o.value = int(a.Int("value", -1));
  if (a.Has("value") && o.value < 0) throw ConfigError("--value", "must be >= 0");
  o.phase = a.String("phase", "pore");
  o.segment = SegmentOptions(a);
  PhasesOption(a, &o.segment);
  o.axes = a.String("axes", "zyx");
  o.solver.tolerance = a.Double("tolerance", o.solver.tolerance);
  if (a.Has("jacobi")) o.solver.preconditioner = Preconditioner::kJacobi;
  o.solver.threads = Threads(a);
  o.out_dir = a.String("out");
  o.write_field = a.Has("field");
  if (o.write_field && o.out_dir.empty()) throw ConfigError("--field", "needs --out DIR for the .vti files");
  o.progress = Style(a);
  o.ensemble = EnsembleOption(a);
  if (StoreInput(a, input)) {
    o.frames = Frames(a);
    for (const TransportRunRow& r : RunTransport(input, o)) {
      PrintTortuosity("frame " + std::to_string(r.frame), r.table);
      if (r.ensemble.rows() > 0) PrintTortuosityEnsemble("frame " + std::to_string(r.frame), r.ensemble);
      PrintFiles(r.files);
    }
    return 0;
  }
  if (o.ensemble) throw ConfigError("--ensemble", "label samples live in a campaign store (op4d segment --ensemble N); " + input + " is a volume");
  if (o.value < 0) throw ConfigError("--value", "a volume input must be a labelled volume: give --value");
  const Volume<std::uint8_t> mask = PoreMaskFromLabels(ReadVolumeInput(a, input), o.value);
  std::printf("%s: %s, phase = value %d\n", input.c_str(), mask.geometry().ToString().c_str(), o.value);
  std::vector<Volume<float>> fields;
  const ResultTable t = TortuosityTable(mask, o.axes, o.solver, o.write_field ? &fields : nullptr, o.progress);
  PrintTortuosity(input, t);
  if (!o.out_dir.empty())
    PrintFiles(WriteTortuosityFiles(OutputStem(o.out_dir, std::filesystem::path(input).stem().string()), t, fields, o.axes));
  return 0;
}

int CmdNetwork(int argc, char** argv) {
  Args a("network", argc, argv, 2,
         {{"pore-value", 1}, {"method", 1}, {"frames", 1}, {"spacing", 3}, {"prune", 1}, {"keep-cavities", 0},
          {"out", 1}, {"ensemble", 1}, {"threads", 1}, {"quiet", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("network").c_str()), 0;
  if (a.positional().size() != 1) throw ConfigError("INPUT", "give exactly one store or volume (see op4d network --help)");
  const std::string input = a.positional()[0];
  NetworkRunOptions o;
  o.pore_value = int(a.Int("pore-value", -1));
  if (a.Has("pore-value") && o.pore_value < 0) throw ConfigError("--pore-value", "must be >= 0");
  o.segment = SegmentOptions(a);
  o.network.skeleton.prune_length_um = a.Double("prune", 0);
  if (!(o.network.skeleton.prune_length_um >= 0)) throw ConfigError("--prune", "must be >= 0 um");
  o.network.fill_cavities = !a.Has("keep-cavities");
  o.network.threads = Threads(a);
  o.network.progress = Style(a);
  o.out_dir = a.String("out");
  o.ensemble = EnsembleOption(a);
  if (StoreInput(a, input)) {
    o.frames = Frames(a);
    for (const NetworkRunRow& r : RunNetwork(input, o)) {
      PrintNetworkSummary("frame " + std::to_string(r.frame), r.summary);
      if (o.ensemble) {
        const ResultTable e = FrameStore::OpenRead(input).ReadFrameTable(r.frame, "network_ensemble");
        const std::string what = "frame " + std::to_string(r.frame) + ":";
        PrintBand(what, e, 0, "nodes", "");
        PrintBand(what, e, 0, "throats", "");
        PrintBand(what, e, 0, "throat_radius_median", "um");
      }
      PrintFiles(r.files);
    }
    return 0;
  }
  if (o.ensemble) throw ConfigError("--ensemble", "label samples live in a campaign store (op4d segment --ensemble N); " + input + " is a volume");
  if (o.pore_value < 0) throw ConfigError("--pore-value", "a volume input must be a labelled volume: give --pore-value");
  const Volume<std::uint8_t> pore = PoreMaskFromLabels(ReadVolumeInput(a, input), o.pore_value);
  std::printf("%s: %s\n", input.c_str(), pore.geometry().ToString().c_str());
  const PoreNetwork net = ExtractPoreNetwork(pore, o.network);
  PrintNetworkSummary(input, net.SummaryTable());
  if (!o.out_dir.empty()) PrintFiles(WriteNetworkFiles(net, o.out_dir, std::filesystem::path(input).stem().string()));
  return 0;
}

int CmdRegister(int argc, char** argv) {
  Args a("register", argc, argv, 2,
         {{"method", 1}, {"strategy", 1}, {"reference", 1}, {"frames", 1}, {"grid-spacing", 1}, {"iterations", 1},
          {"metric", 1}, {"stride", 1}, {"tensors", 0}, {"particles", 0}, {"particle-contact", 1}, {"particle-smooth", 1},
          {"particle-model", 1}, {"particle-interpolation", 1}, {"segment", 1}, {"watershed-h", 1}, {"match-distance", 1}, {"out", 1}, {"threads", 1}, {"quiet", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("register").c_str()), 0;
  if (a.positional().size() != 1) throw ConfigError("CAMPAIGN", "give exactly one campaign store (see op4d register --help)");
  RegisterRunOptions o;
  try {
    o.method = RegisterMethodFromString(a.String("method", "affine"));
  } catch (const ConfigError& e) {
    throw ConfigError("--method", e.what());
  }
  try {
    o.strategy = RegisterStrategyFromString(a.String("strategy", "total"));
  } catch (const ConfigError& e) {
    throw ConfigError("--strategy", e.what());
  }
  o.reference = a.Int("reference", 0);
  o.frames = Frames(a);
  o.elastix.grid_spacing_um = a.Double("grid-spacing", o.elastix.grid_spacing_um);
  if (!(o.elastix.grid_spacing_um > 0)) throw ConfigError("--grid-spacing", "must be > 0 um");
  if (a.Has("iterations")) {
    const long long it = a.Int("iterations", 0);
    if (it < 1) throw ConfigError("--iterations", "must be >= 1");
    o.affine.iterations = o.elastix.iterations = int(it);
  }
  const std::string metric = a.String("metric", "mean-squares");
  if (metric == "mutual-information") {
    o.affine.metric = RegistrationMetric::kMattesMutualInformation;
    o.elastix.metric = "AdvancedMattesMutualInformation";
  } else if (metric != "mean-squares") {
    throw ConfigError("--metric", "'" + metric + "' is not mean-squares or mutual-information");
  }
  o.strain_stride = int(a.Int("stride", 2));
  if (o.strain_stride < 1) throw ConfigError("--stride", "must be >= 1");
  o.particles = a.Has("particles");
  o.particle_fit.contact_um = a.Double("particle-contact", o.particle_fit.contact_um);
  o.particle_fit.smooth_um = a.Double("particle-smooth", o.particle_fit.smooth_um);
  std::string why;
  if (!o.particle_fit.IsValid(&why))
    throw ConfigError(o.particle_fit.contact_um < 0 ? "--particle-contact" : "--particle-smooth", why);
  try {
    o.segment.method = SegmentMethodFromString(a.String("segment", "multi-otsu"));
  } catch (const ConfigError& e) {
    throw ConfigError("--segment", e.what());
  }
  try {
    o.particle_fit.model = ParticleModelFromString(a.String("particle-model", "affine"));
  } catch (const ConfigError& e) {
    throw ConfigError("--particle-model", e.what());
  }
  try {
    o.particle_fit.interpolation = ParticleInterpolationFromString(a.String("particle-interpolation", "cubic"));
  } catch (const ConfigError& e) {
    throw ConfigError("--particle-interpolation", e.what());
  }
  o.watershed.h_um = a.Double("watershed-h", o.watershed.h_um);
  if (!o.watershed.IsValid(&why)) throw ConfigError("--watershed-h", why);
  o.match.max_distance_um = a.Double("match-distance", o.match.max_distance_um);
  if (!(o.match.max_distance_um > 0)) throw ConfigError("--match-distance", "must be > 0 um");
  o.tensors = a.Has("tensors");
  o.out_dir = a.String("out");
  o.threads = Threads(a);
  o.progress = Style(a);
  const std::string store = a.positional()[0];
  const std::vector<RegisterRunRow> rows = RunRegistration(store, o);
  // J statistics exist only for a method that produces a displacement field (elastix).
  const bool field = o.method == RegisterMethod::kElastix;
  std::printf("%-6s %-10s %-10s %-10s %-9s %-9s %-9s %-9s %-11s %s\n", "frame", "t_z um", "t_y um", "t_x um",
              "detF", "J mean", "J sd", "rms0", "rms", "status");
  if (!field)
    std::printf("(J mean, J sd: no J field with --method %s, one F per frame (its det F is shown); --method elastix "
                "gives the field)\n", ToString(o.method));
  for (const RegisterRunRow& r : rows) {
    auto sv = [&](const char* c) {
      const ResultColumn* col = r.strain_summary.Find(c);
      return col ? col->values[0] : NAN;
    };
    if (field)
      std::printf("%-6lld %-10.4f %-10.4f %-10.4f %-9.5f %-9.5f %-9.5f %-9.1f %-11.1f %s\n", static_cast<long long>(r.frame),
                  r.map.t[0], r.map.t[1], r.map.t[2], r.J_linear, sv("J_mean"), sv("J_sd"), r.rms_before, r.rms_after,
                  r.status.c_str());
    else
      std::printf("%-6lld %-10.4f %-10.4f %-10.4f %-9.5f %-9s %-9s %-9.1f %-11.1f %s\n", static_cast<long long>(r.frame),
                  r.map.t[0], r.map.t[1], r.map.t[2], r.J_linear, "-", "-", r.rms_before, r.rms_after, r.status.c_str());
    if (o.particles)
      std::printf("  particles: %lld fitted, %lld converged, median eps_v %.5f; identity: %lld matched, %lld lost, %lld new\n",
                  static_cast<long long>(r.particles), static_cast<long long>(r.particles_converged), r.particle_eps_v_median,
                  static_cast<long long>(r.particles_matched), static_cast<long long>(r.particles_lost),
                  static_cast<long long>(r.particles_new));
    for (const std::string& f : r.files) std::printf("  wrote %s\n", f.c_str());
  }
  if (o.particles && !rows.empty()) std::printf("%s\n", rows.back().guard.c_str());
  return 0;
}

int CmdThroats(int argc, char** argv) {
  Args a("throats", argc, argv, 2,
         {{"gamma", 1}, {"theta", 1}, {"r-min", 1}, {"tolerance", 1}, {"reference", 1}, {"pore-value", 1},
          {"method", 1}, {"phases", 1}, {"check-truth", 0}, {"reextract", 0}, {"out", 1}, {"ensemble", 1}, {"threads", 1},
          {"quiet", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("throats").c_str()), 0;
  if (a.positional().size() != 1) throw ConfigError("CAMPAIGN", "give exactly one campaign store (see op4d throats --help)");
  if (!a.Has("gamma")) throw ConfigError("--gamma", "the surface tension (N/m) is required");
  ThroatRunOptions o;
  o.law.surface_tension_N_per_m = a.Double("gamma", 0);
  o.law.contact_angle_deg = a.Double("theta", 0);
  o.law.r_min_um = a.Double("r-min", 0);
  o.carry.search_tolerance_um = a.Double("tolerance", 0);
  if (!(o.carry.search_tolerance_um >= 0)) throw ConfigError("--tolerance", "must be >= 0 um");
  o.reference = a.Int("reference", 0);
  o.pore_value = int(a.Int("pore-value", -1));
  if (a.Has("pore-value") && o.pore_value < 0) throw ConfigError("--pore-value", "must be >= 0");
  o.segment.method = SegmentMethodFromString(a.String("method", "multi-otsu"));
  PhasesOption(a, &o.segment);
  o.reextract = a.Has("reextract");
  o.out_dir = a.String("out");
  o.ensemble = EnsembleOption(a);
  o.threads = Threads(a);
  o.progress = Style(a);
  const ThroatRunResult r = RunThroatHistory(a.positional()[0], o);
  std::printf("reference network: %zu nodes, %zu throats; %lld of %zu frames carried by their registration\n",
              r.network.nodes.size(), r.network.throats.size(), static_cast<long long>(r.frames_with_registration),
              r.history.frames.size());
  const std::size_t ref = std::size_t(o.reference);
  if (ref < r.history.frames.size() && !r.history.frames[ref].percolates) {
    // Nothing percolates to lose or regain: a history of zeros would read as a measurement.
    const FramePercolation& f = r.history.frames[ref];
    std::printf("non-percolating at the reference: no throat history (frame %zu: critical pressure %.1f Pa, p_app %.1f Pa)\n",
                ref, f.critical_pressure_Pa, f.p_app_Pa);
    return 0;
  }
  std::printf("%-6s %-10s %-11s %-8s %-6s %-11s %-13s\n", "frame", "time s", "p_app Pa", "open", "lost", "percolates",
              "critical Pa");
  for (std::size_t k = 0; k < r.history.frames.size(); ++k) {
    const FramePercolation& f = r.history.frames[k];
    std::printf("%-6zu %-10.1f %-11.1f %-8lld %-6lld %-11s %-13.1f\n", k, f.time_s, f.p_app_Pa,
                static_cast<long long>(f.open_throats), static_cast<long long>(f.lost_throats),
                f.percolates ? "yes" : "no", f.critical_pressure_Pa);
  }
  std::printf("percolation fraction %.4f, %lld reopen events, first loss %s\n", r.history.percolation_fraction,
              static_cast<long long>(r.history.reopen_events),
              r.history.ever_lost ? (std::to_string(r.history.first_loss_time_s) + " s").c_str() : "never");
  if (o.ensemble) {
    const FrameStore store = FrameStore::OpenRead(a.positional()[0]);
    const ResultTable e = store.ReadSeriesTable("throat_frames_ensemble");
    std::printf("over %d label samples per frame:\n", o.ensemble);
    for (std::size_t k = 0; k < e.rows(); ++k) {
      auto v = [&](const char* c) { return e.Find(c)->values[k]; };
      std::printf("  frame %zu: P(percolates) %.3f, open throats %.0f (5-95 %% %.1f to %.1f)\n", k, v("percolates_mean"),
                  v("open_throats"), v("open_throats_p05"), v("open_throats_p95"));
    }
    PrintBand(" ", store.ReadSeriesTable("percolation_summary_ensemble"), 0, "percolation_fraction", "");
  }
  if (o.reextract) {
    std::printf("re-extracted networks (throats matched to the carried reference ones):\n%-6s %-8s %-8s %-9s %-6s %-6s %-6s\n",
                "frame", "throats", "matched", "segments", "born", "died", "lost");
    for (std::size_t k = 0; k < r.births_deaths.size(); ++k) {
      const ThroatMatch& m = r.births_deaths[k];
      std::printf("%-6zu %-8zu %-8lld %-9lld %-6lld %-6lld %-6lld\n", k, m.reference_of.size(), static_cast<long long>(m.matched),
                  static_cast<long long>(m.segments), static_cast<long long>(m.born), static_cast<long long>(m.died),
                  static_cast<long long>(m.lost));
    }
  }
  for (const std::string& f : r.files) std::printf("  wrote %s\n", f.c_str());
  if (a.Has("check-truth")) {
    const std::string truth = TruthPathFor(a.positional()[0]);
    const ThroatTruthCheck c = CheckThroatHistory(r, truth, o.law, o.reference);
    {
      FrameStore store = FrameStore::OpenReadWrite(a.positional()[0]);
      store.WriteSeriesTable(c.Table(), {"throats.check", "throat history against " + truth, "{}", ""});
    }
    std::printf("against the truth (%s): %lld of %lld truth throats found (%lld detected throats, %lld near none)\n",
                truth.c_str(), static_cast<long long>(c.matched_throats), static_cast<long long>(c.truth_throats),
                static_cast<long long>(c.detected_throats), static_cast<long long>(c.unmatched_detected));
    std::printf("  closures found %lld of %lld, reopenings found %lld of %lld: event recall %.4f\n",
                static_cast<long long>(c.found_closures), static_cast<long long>(c.truth_closures),
                static_cast<long long>(c.found_reopenings), static_cast<long long>(c.truth_reopenings), c.EventRecall());
    std::printf("  invented closures %lld, invented reopenings %lld\n", static_cast<long long>(c.invented_closures),
                static_cast<long long>(c.invented_reopenings));
    std::printf("  percolation agrees in %lld of %lld frames (fraction: truth %.4f, detected %.4f)\n",
                static_cast<long long>(c.percolation_agrees), static_cast<long long>(c.frames), c.truth_percolation_fraction,
                c.detected_percolation_fraction);
    if (c.reextracted)
      std::printf("  re-extraction: %lld of %lld swollen-shut throat-frames dead in the frame's network, %lld deaths of open\n"
                  "  throats, %lld throats born\n",
                  static_cast<long long>(c.shut_found), static_cast<long long>(c.truth_shut),
                  static_cast<long long>(c.deaths_invented), static_cast<long long>(c.born));
  }
  return 0;
}

int CmdDegradation(int argc, char** argv) {
  Args a("degradation", argc, argv, 2,
         {{"method", 1}, {"phases", 1}, {"frames", 1}, {"reference", 1}, {"state", 1}, {"interior", 1}, {"crack-min", 1},
          {"fragment-min", 1}, {"debond-drop", 1}, {"events", 0}, {"watershed-h", 1}, {"continue-share", 1}, {"threads", 1},
          {"quiet", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("degradation").c_str()), 0;
  if (a.positional().size() != 1) throw ConfigError("CAMPAIGN", "give exactly one campaign store (see op4d degradation --help)");
  if (a.Has("events")) {
    for (const char* k : {"reference", "state", "interior", "crack-min", "fragment-min", "debond-drop"})
      if (a.Has(k)) throw ConfigError(std::string("--") + k, "not an option of --events (it needs no reference particles)");
    LabelEventRunOptions e;
    e.segment = SegmentOptions(a);
    PhasesOption(a, &e.segment);
    e.frames = Frames(a);
    e.watershed.h_um = a.Double("watershed-h", e.watershed.h_um);
    e.events.continue_share = a.Double("continue-share", e.events.continue_share);
    e.threads = Threads(a);
    e.progress = Style(a);
    const LabelEventSummary r = RunLabelEvents(a.positional()[0], e);
    std::printf("%lld frames, objects of the active-role phase followed frame to frame (motion: %s)\n",
                static_cast<long long>(r.frames), r.motion.c_str());
    std::printf("%8s %8s %9s %8s %8s %8s %8s %8s %8s\n", "frame", "objects", "continued", "merges", "merged", "splits", "vanished",
                "born", "left_out");
    const ResultTable& t = r.series;
    for (std::size_t i = 0; i < t.rows(); ++i) {
      std::printf("%8.0f %8.0f", t.Find("frame")->values[i], t.Find("objects")->values[i]);
      for (const char* c : {"continued", "merges", "merged", "splits", "vanished", "born", "left_out"}) {
        const double v = t.Find(c)->values[i];
        if (std::isfinite(v)) std::printf(" %8.0f", v);
        else std::printf(" %8s", "-");
      }
      std::printf("\n");
    }
    const ResultColumn& mc = *t.Find("motion_converged");
    for (std::size_t i = 0; i < t.rows(); ++i)
      if (mc.values[i] == 0)
        std::printf("frame %.0f: its registration did not converge; its events are suspect (the frames are related poorly)\n",
                    t.Find("frame")->values[i]);
    std::printf("in all: %lld merges (%lld objects), %lld splits, %lld vanished, %lld born (series label_event_series)\n",
                static_cast<long long>(r.merges), static_cast<long long>(r.merged), static_cast<long long>(r.splits),
                static_cast<long long>(r.vanished), static_cast<long long>(r.born));
    return 0;
  }
  DegradationRunOptions o;
  o.segment = SegmentOptions(a);
  PhasesOption(a, &o.segment);
  o.frames = Frames(a);
  o.reference = a.Int("reference", 0);
  o.state = CycleStateFromString(a.String("state", "discharge"));
  o.damage.interior_vox = a.Double("interior", o.damage.interior_vox);
  o.damage.crack_min_voxels = a.Int("crack-min", o.damage.crack_min_voxels);
  o.damage.fragment_min_share = a.Double("fragment-min", o.damage.fragment_min_share);
  o.debond_drop = a.Double("debond-drop", o.debond_drop);
  o.threads = Threads(a);
  o.progress = Style(a);
  const DegradationSummary r = RunDegradation(a.positional()[0], o);
  std::printf("%lld frames, %lld reference particles, %d cycles (cycles from %s)\n", static_cast<long long>(r.frames),
              static_cast<long long>(r.particles), r.cycles, r.cycle_source.c_str());
  std::printf("onsets seen: %lld cracked, %lld fragmented, %lld debonded\n", static_cast<long long>(r.cracked),
              static_cast<long long>(r.fragmented), static_cast<long long>(r.debonded));
  if (r.throats >= 0)
    std::printf("throats closed for good (open in the first frame, closed in the last): %lld of %lld\n",
                static_cast<long long>(r.permanent_closures), static_cast<long long>(r.throats));
  std::printf("drift per cycle at the end of %s (slope, 95 %% interval, cycles):\n", ToString(o.state));
  for (const DriftRow& d : r.drift)
    std::printf("  %-28s %+.4g [%+.4g, %+.4g] %s per cycle, %d cycles (first %.5g, last %.5g)\n", d.quantity.c_str(),
                d.drift.slope, d.drift.slope - d.drift.half_width_95, d.drift.slope + d.drift.half_width_95, d.unit.c_str(),
                d.drift.n, d.first, d.last);
  return 0;
}

int CmdSoc(int argc, char** argv) {
  Args a("soc", argc, argv, 2,
         {{"k", 1}, {"capacity", 1}, {"soc0", 1}, {"discharge-positive", 0}, {"eps-std", 1}, {"reference", 1},
          {"min-particle", 1}, {"include-border", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("soc").c_str()), 0;
  if (a.positional().size() != 1) throw ConfigError("CAMPAIGN", "give exactly one campaign store (see op4d soc --help)");
  SocRunOptions o;
  if (a.Has("k")) {
    o.calibrate = false;
    o.k = a.Double("k", 0);
  }
  o.capacity_Ah = a.Double("capacity", 0);
  o.soc0 = a.Double("soc0", 0);
  o.charge_positive = !a.Has("discharge-positive");
  o.eps_std = a.Double("eps-std", -1);
  if (a.Has("eps-std") && !(o.eps_std >= 0)) throw ConfigError("--eps-std", "must be >= 0");
  o.min_particle_um3 = a.Double("min-particle", 0);
  if (!(o.min_particle_um3 >= 0)) throw ConfigError("--min-particle", "must be >= 0 um3");
  o.include_border = a.Has("include-border");
  o.reference = a.Int("reference", 0);
  const SocRunResult r = RunSoc(a.positional()[0], o);
  if (o.calibrate)
    std::printf("calibrated k = %.5f +- %.5f over %d frames (rms residual %.2e)\n", r.calibration.k, r.calibration.k_std,
                r.calibration.frames, r.calibration.rms_residual);
  if (!r.eps_v_resolved) {
    std::printf("per-particle SOC not reported: the register step found per-particle eps_v unresolved at this "
                "resolution (Cramer-Rao bound of registration_series above 1/10 of its strain range)\n");
    return 0;
  }
  std::printf("%-6s %-10s %-9s %-9s %-9s %-9s %s\n", "frame", "particles", "soc", "sd", "p05", "p95",
              "left out (outside [-0.05, 1.05] beyond 2 se)");
  for (std::size_t i = 0; i < r.frames.size(); ++i) {
    const SocStatistics& s = r.frames[i];
    std::printf("%-6zu %-10d %-9.4f %-9.4f %-9.4f %-9.4f %lld\n", i, s.count, s.mean, s.sd, s.p05, s.p95,
                static_cast<long long>(i < r.flagged.size() ? r.flagged[i] : 0));
  }
  return 0;
}

int CmdScore(int argc, char** argv) {
  Args a("score", argc, argv, 2, {{"truth", 1}, {"require-pass", 0}, {"stored", 0}, {"threads", 1}, {"quiet", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("score").c_str()), 0;
  if (a.positional().size() != 1) throw ConfigError("CAMPAIGN.h5", "give exactly one store (see op4d score --help)");
  if (a.Has("stored")) {
    const Scorecard card = ReadScorecard(a.positional()[0]);
    if (card.rows.empty()) throw IoError(a.positional()[0], "/series/scorecard", "no scorecard stored: run op4d score first");
    std::printf("%s", FormatScorecard(card).c_str());
    return a.Has("require-pass") && !card.AllPass() ? 1 : 0;
  }
  ScoreOptions o;
  o.truth_path = a.String("truth", "");
  o.threads = Threads(a);
  o.progress = Style(a);
  const std::string& store = a.positional()[0];
  if (o.truth_path.empty()) {
    std::string t = store;
    if (t.size() > 3 && t.compare(t.size() - 3, 3, ".h5") == 0) t.resize(t.size() - 3);
    t += ".truth.h5";
    if (!std::filesystem::exists(t)) {
      std::printf("score: no ground truth beside %s (%s): nothing to score\n", store.c_str(), t.c_str());
      return 0;
    }
  }
  const Scorecard card = ScoreCampaign(store, o);
  std::printf("%s", FormatScorecard(card).c_str());
  return a.Has("require-pass") && !card.AllPass() ? 1 : 0;
}

int CmdAdvise(int argc, char** argv) {
  Args a("advise", argc, argv, 2,
         {{"feature", 1}, {"rve", 1}, {"thickness", 1}, {"in-operando", 0}, {"destructive-ok", 0}, {"phases", 1},
          {"techniques", 1}, {"json", 1}, {"contrast-at", 1}, {"min-voxels", 1}, {"min-transmission", 1}, {"snr", 1},
          {"rose", 1}, {"labels", 1}, {"spacing", 1}, {"rve-label", 1}, {"rve-samples", 1}, {"rve-tolerance", 1},
          {"no-rve-tau", 0}, {"threads", 1}, {"input", 1}, {"store", 1}, {"frame", 1}, {"no-save", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("advise").c_str()), 0;
  // An input file (schemas/advise.schema.json) gives the same keys; the command line wins.
  nlohmann::json file = nlohmann::json::object();
  if (a.Has("input")) {
    const std::string path = a.String("input");
    std::ifstream f(path);
    if (!f) throw IoError(path, "", "cannot read the advise input");
    try {
      f >> file;
    } catch (const nlohmann::json::parse_error& e) {
      throw ConfigError(path, std::string("not valid JSON: ") + e.what());
    }
    cli::ValidateJson(nlohmann::json::parse(cli::kAdviseSchema), file, path);
  }
  auto key = [](std::string o) {
    std::replace(o.begin(), o.end(), '-', '_');
    return o;
  };
  auto has = [&](const std::string& o, const std::string& k = "") { return a.Has(o) || file.contains(k.empty() ? key(o) : k); };
  auto num = [&](const std::string& o, double fallback, const std::string& k = "") {
    return a.Has(o) ? a.Double(o, fallback) : file.value(k.empty() ? key(o) : k, fallback);
  };
  auto flag = [&](const std::string& o, const std::string& k = "") { return a.Has(o) || file.value(k.empty() ? key(o) : k, false); };
  auto str = [&](const std::string& o, const std::string& fallback) { return a.Has(o) ? a.String(o) : file.value(key(o), fallback); };
  AdviceInput in;
  in.smallest_feature_um = num("feature", 0, "feature_um");
  in.rve_edge_um = num("rve", 0, "rve_um");
  const bool has_feature = has("feature", "feature_um"), has_rve = has("rve", "rve_um"), has_labels = has("labels");
  const bool has_store = has("store");
  if (has_labels && has_store) throw ConfigError("--store", "give a label volume (--labels) or a store (--store), not both");
  // What a store's frame gave, kept to be stored beside the ranking (the report's advice section).
  std::vector<FeatureSize> all;
  std::optional<RveResult> rve;
  RveOptions ro;
  std::int64_t frame = -1;
  if (has_labels || has_store) {
    AnyVolume any;
    std::string path;
    std::vector<double> throat_radii;  // the stored pore network's throat radii, um (store only)
    std::optional<FeatureSize> particles;  // the geometry step's particle sizes (store only)
    if (has_labels) {
      ImportOptions io;
      if (has("spacing", "spacing_um")) {
        const double h = num("spacing", 0, "spacing_um");
        if (!(h > 0)) throw ConfigError("--spacing", "must be > 0 um");
        io.spacing_um = Vec3{h, h, h};
      }
      path = str("labels", "");
      any = OpenInput(path, io)->ReadFrame(0);
    } else {
      path = str("store", "");
      const FrameStore store = FrameStore::OpenRead(path);
      const std::int64_t k = std::int64_t(num("frame", 0));
      if (k < 0 || k >= store.frame_count())
        throw ConfigError("--frame", std::to_string(k) + " is outside 0.." + std::to_string(store.frame_count() - 1) + " of " + path);
      const std::vector<std::string> volumes = store.ListFrameVolumes(k);
      if (std::find(volumes.begin(), volumes.end(), "labels") == volumes.end())
        throw IoError(path, "/frames/" + std::to_string(k) + "/labels", "no stored labels: run op4d segment (or the segment step) first");
      any = store.ReadFrameVolume(k, "labels");
      const std::vector<std::string> tables = store.ListFrameTables(k);
      if (std::find(tables.begin(), tables.end(), "network_throats") != tables.end())
        if (const ResultColumn* c = store.ReadFrameTable(k, "network_throats").Find("min_radius_um")) throat_radii = c->values;
      if (std::find(tables.begin(), tables.end(), "particle_size_summary") != tables.end()) {
        const ResultTable t = store.ReadFrameTable(k, "particle_size_summary");
        const ResultColumn *p10 = t.Find("p10_diameter"), *p50 = t.Find("median_diameter");
        if (p10 && p50 && t.rows() == 1 && std::isfinite(p10->values[0]))
          particles = FeatureSize{"particles (d_eq)", p10->values[0], p50->values[0]};
      }
      frame = k;
      path += " frame " + std::to_string(k);
    }
    if (!std::holds_alternative<Volume<std::uint8_t>>(any))
      throw IoError(path, "", "the label volume must be uint8 (0 pore, 1 active, 2 binder, ...)");
    const Volume<std::uint8_t>& labels = std::get<Volume<std::uint8_t>>(any);
    const ThreadBudget threads{int(a.Int("threads", 0))};
    std::vector<std::pair<std::string, std::uint8_t>> present;
    std::array<std::int64_t, 256> count{};
    for (std::int64_t i = 0; i < labels.size(); ++i) ++count[labels[i]];
    const char* names[] = {"pore", "active", "binder"};
    for (int l = 0; l < 256; ++l)
      if (count[std::size_t(l)]) present.emplace_back(l < 3 ? names[l] : "label " + std::to_string(l), std::uint8_t(l));
    std::printf("%s: %s voxels of %g um\n", path.c_str(), labels.geometry().ToString().c_str(), labels.geometry().spacing_um[0]);
    const std::vector<FeatureSize> features = FeatureSizes(labels, present, threads);
    std::printf("%-10s %-12s %s\n", "phase", "d10_um", "d50_um (local thickness)");
    all = features;
    if (!throat_radii.empty()) {
      // Throats of the stored pore network: diameters 2 r_min (the narrowest features of the pore space).
      std::vector<double> d;
      for (double r : throat_radii)
        if (std::isfinite(r)) d.push_back(2 * r);
      std::sort(d.begin(), d.end());
      if (!d.empty()) all.push_back({"throats (2 r_min)", d[std::size_t(0.1 * double(d.size() - 1))], d[std::size_t(0.5 * double(d.size() - 1))]});
    }
    // Particles of the geometry step: equivalent diameters (the particle scale a technique must resolve).
    if (particles) all.push_back(*particles);
    const FeatureSize* smallest = nullptr;
    for (const FeatureSize& f : all) {
      std::printf("%-10s %-12.3g %.3g\n", f.phase.c_str(), f.p10_um, f.p50_um);
      if (!smallest || f.p10_um < smallest->p10_um) smallest = &f;
    }
    if (!has_feature && smallest) in.smallest_feature_um = smallest->p10_um;
    const double label = num("rve-label", 0);
    if (!(label >= 0 && label <= 255)) throw ConfigError("--rve-label", "must be a label 0..255");
    ro.label = std::uint8_t(label);
    ro.samples = int(num("rve-samples", 6));
    ro.tolerance = num("rve-tolerance", 0.05);
    ro.tortuosity = !a.Has("no-rve-tau") && file.value("rve_tau", true);
    ro.threads = threads;
    if (!has_rve) {
      rve = ComputeRve(labels, ro);
      const RveResult& r = *rve;
      std::printf("RVE of label %d (whole volume: fraction %.4f, a_s %.4f 1/um, tau_z %.4f)\n", int(ro.label), r.porosity, r.as_per_um, r.tau);
      std::printf("%-9s %-9s %-10s %-8s %-10s %-8s %-9s %-8s %s\n", "edge_vox", "edge_um", "fraction", "cv", "a_s", "cv", "tau_z", "cv",
                  "percolating");
      for (const RvePoint& q : r.curve)
        std::printf("%-9lld %-9.4g %-10.4f %-8.3f %-10.4f %-8.3f %-9.4f %-8.3f %d/%d\n", static_cast<long long>(q.edge_vox), q.edge_um,
                    q.porosity_mean, q.porosity_cv, q.as_mean, q.as_cv, q.tau_mean, q.tau_cv, q.tau_percolating, ro.samples);
      if (r.reached) {
        std::printf("RVE edge %.4g um (every metric within %g from there on)\n\n", r.rve_edge_um, ro.tolerance);
        in.rve_edge_um = r.rve_edge_um;
      } else {
        // The volume is not representative at any edge: image at least what was measured, and say so.
        const Index3 sh = labels.geometry().shape;
        in.rve_edge_um = double(std::max({sh[0], sh[1], sh[2]})) * labels.geometry().spacing_um[0];
        std::printf("RVE NOT REACHED within this volume (%s does not settle within %g): advising for at least the "
                    "measured edge, %.4g um\n\n", r.limiting.c_str(), ro.tolerance, in.rve_edge_um);
      }
    }
  }
  if (!has_feature && !has_labels && !has_store) throw ConfigError("--feature", "give the smallest feature to resolve in um (see op4d advise --help)");
  if (!has_rve && !has_labels && !has_store) throw ConfigError("--rve", "give the representative volume's edge in um (see op4d advise --help)");
  in.sample_thickness_um = num("thickness", 0, "thickness_um");
  in.in_operando = flag("in-operando");
  in.destructive_allowed = flag("destructive-ok");
  in.min_voxels_per_feature = num("min-voxels", 3);
  in.min_transmission = num("min-transmission", 0.1);
  in.snr = num("snr", 20);
  in.rose = num("rose", 3);
  if (a.Has("phases")) {
    in.phases = ParsePhases(a.String("phases"), "--phases");
  } else if (file.contains("phases")) {
    for (std::size_t i = 0; i < file["phases"].size(); ++i) {
      const nlohmann::json& p = file["phases"][i];
      XrayPhase x{p["name"].get<std::string>(), p["composition"].get<std::string>(), p["density_g_cm3"].get<double>(),
                  p.value("volume_fraction", 0.0)};
      ParseComposition(x.composition, a.String("input") + ": /phases/" + std::to_string(i) + "/composition");
      in.phases.push_back(x);
    }
  } else {
    in.phases = ElectrodePhases();
  }
  std::string why;
  if (!in.IsValid(&why)) throw ConfigError("op4d advise", why);
  const std::vector<TechniqueAdvice> advice = Advise(in, LoadTechniques(str("techniques", DefaultTechniquesPath())));
  if (a.Has("contrast-at")) {
    const double e = a.Double("contrast-at", 0);
    std::printf("attenuation at %g keV (xraylib; mu/rho in cm^2/g, mu in 1/cm)\n%-16s %-10s %-10s %s\n", e, "phase", "mu/rho",
                "mu", "delta");
    for (const XrayPhase& p : in.phases)
      std::printf("%-16s %-10.5g %-10.5g %.4g\n", p.name.c_str(), LinearAttenuation(p, e) / p.density_g_cm3,
                  LinearAttenuation(p, e), RefractiveDecrement(p, e));
    std::printf("%-32s %-10s %-8s %-10s %s\n", "pair", "relative", "CNR", "phase CNR", "absorption");
    for (const PairContrast& c : ContrastTable(in.phases, Monochromatic(e), in.snr, in.rose))
      std::printf("%-32s %-10.4g %-8.3g %-10.3g %s\n", (c.a + " | " + c.b).c_str(), c.relative, c.cnr, c.phase_cnr,
                  c.detectable ? "detectable" : c.phase_detectable ? "BELOW threshold (phase contrast needed)" : "BELOW threshold");
    std::printf("\n");
  }
  std::printf("%s", FormatAdvice(advice).c_str());
  if (a.Has("json")) {
    const std::string out = a.String("json");
    std::ofstream f(out);
    if (!(f << AdviceJson(in, advice) << "\n")) throw IoError(out, "", "cannot write the advice");
  }
  if (has_store && !a.Has("no-save")) {
    // Into the store's series results (the report's advice section), with what the frame gave.
    const std::string path = str("store", "");
    nlohmann::json j = nlohmann::json::parse(AdviceJson(in, advice));
    j["frame"] = frame;
    for (const FeatureSize& f : all) j["features"].push_back({{"phase", f.phase}, {"p10_um", f.p10_um}, {"p50_um", f.p50_um}});
    if (rve)
      j["rve"] = {{"label", int(ro.label)}, {"samples", ro.samples}, {"tolerance", ro.tolerance}, {"reached", rve->reached},
                  {"rve_edge_um", rve->rve_edge_um}, {"limiting", rve->limiting}, {"fraction", rve->porosity},
                  {"as_per_um", rve->as_per_um}, {"tau_z", rve->tau}};
    FrameStore store = FrameStore::OpenReadWrite(path);
    const std::string source = "labels of frame " + std::to_string(frame) + " of " + path;
    store.WriteSeriesTable(AdviceTable(advice), Provenance{"advise", source, j.dump(), ""});
    if (rve) store.WriteSeriesTable(RveTable(*rve), Provenance{"advise.rve", source, j["rve"].dump(), ""});
    std::printf("stored series results advice%s in %s (op4d report shows them; --no-save skips this)\n", rve ? " and advice_rve" : "",
                path.c_str());
  }
  return 0;
}

int CmdDemo(int argc, char** argv) {
  Args a("demo", argc, argv, 2, {{"dir", 1}, {"frames", 1}, {"threads", 1}, {"quiet", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("demo").c_str()), 0;
  const std::string dir = a.String("dir", "op4d-example");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError(dir, "", "cannot create directory: " + ec.message());
  SynthOptions o = SynthOptions::BuiltIn();
  if (a.Has("frames")) o.frames = int(a.Int("frames", o.frames));
  StoreOptions so;
  so.threads = Threads(a);
  const std::string store = dir + "/campaign.h5";
  std::printf("op4d %s demo: built-in synthetic operando campaign -> %s\n", Version(), store.c_str());
  const SynthSummary s = WriteSynthCampaign(o, store, so, true, Style(a));
  double r_vox = o.radius_um / std::max({o.spacing_um[0], o.spacing_um[1], o.spacing_um[2]});
  std::printf("%d frames over %d cycles, %lldx%lldx%lld voxels of %.3g um, particle radius %.3g um (%.0f voxels), "
              "%zu particles, SNR %.3g; ground truth in %s\n",
              s.frames, o.cycles, static_cast<long long>(o.shape[0]), static_cast<long long>(o.shape[1]),
              static_cast<long long>(o.shape[2]), o.spacing_um[0], o.radius_um, r_vox, s.particles, o.snr,
              s.truth_path.c_str());
  std::printf("\nresults stored in %s (op4d info %s)\n", store.c_str(), store.c_str());
  return 0;
}

}  // namespace

int CmdReport(int argc, char** argv) {
  Args a("report", argc, argv, 2, {{"out", 1}, {"slices", 1}, {"method", 1}, {"no-vtk", 0}, {"threads", 1}, {"quiet", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("report").c_str()), 0;
  if (a.positional().size() != 1) throw ConfigError("CAMPAIGN.h5", "give exactly one store (see op4d report --help)");
  ReportOptions o;
  o.out_dir = a.Required("out");
  o.segment = SegmentOptions(a);
  o.vtk = !a.Has("no-vtk");
  o.progress = Style(a);
  if (a.Has("slices")) {
    std::stringstream ss(a.String("slices"));
    std::string item;
    while (std::getline(ss, item, ',')) {
      char* end = nullptr;
      const long long k = std::strtoll(item.c_str(), &end, 10);
      if (item.empty() || *end != '\0' || k < 0) throw ConfigError("--slices", "'" + item + "' is not a frame number");
      o.slice_frames.push_back(k);
    }
  }
  const ReportSummary r = WriteReport(a.positional()[0], o);
  std::printf("report %s: %d plots, %d slice images; %zu files (CSV tables in %s/csv, VTK in %s/vtk)\n", r.html.c_str(), r.plots,
              r.slices, r.files.size(), o.out_dir.c_str(), o.out_dir.c_str());
  return 0;
}

int CmdMerge(int argc, char** argv) {
  Args a("merge", argc, argv, 2, {{"quiet", 0}});
  if (a.help()) return std::printf("%s", kHelp.at("merge").c_str()), 0;
  if (a.positional().size() < 2) throw ConfigError("CAMPAIGN.h5 PART.h5...", "give the campaign and at least one part (see op4d merge --help)");
  const std::vector<std::string> parts(a.positional().begin() + 1, a.positional().end());
  const std::int64_t n = cli::MergeParts(a.positional()[0], parts, a.Has("quiet"));
  std::printf("merged %lld frames from %zu parts into %s; run the pipeline on it for the series steps\n", static_cast<long long>(n),
              parts.size(), a.positional()[0].c_str());
  return 0;
}

int Dispatch(int argc, char** argv);

int CmdRun(int argc, char** argv) {
  Args a("run", argc, argv, 2,
         {{"store", 1}, {"frames", 1}, {"threads", 1}, {"quiet", 0}, {"force", 0}, {"log", 1}, {"follow", 0}, {"idle", 1},
          {"poll", 1}, {"manifest", 1}, {"no-series", 0}, {"jobs", 1}, {"memory", 1}});
  if (a.help()) return std::printf("%s", kHelp.at("run").c_str()), 0;
  if (a.positional().size() != 1) throw ConfigError("PIPELINE", "give exactly one pipeline file (see op4d run --help)");
  cli::RunOptions o;
  o.pipeline_path = a.positional()[0];
  o.store = a.Required("store");
  o.frames = a.String("frames");
  o.threads = int(Threads(a).threads);
  o.quiet = a.Has("quiet");
  o.force = a.Has("force");
  o.log_path = a.String("log");
  o.follow = a.Has("follow");
  o.idle_s = a.Double("idle", 60);
  o.poll_s = a.Double("poll", 1);
  if (!(o.idle_s >= 0) || !(o.poll_s > 0)) throw ConfigError("--idle/--poll", "must be >= 0 and > 0 seconds");
  o.manifest = a.String("manifest");
  o.no_series = a.Has("no-series");
  o.jobs = int(a.Int("jobs", 1));
  if (o.jobs < 1 || o.jobs > 256) throw ConfigError("--jobs", "must be 1 to 256");
  o.memory_gb = a.Double("memory", 0);
  if (!(o.memory_gb >= 0)) throw ConfigError("--memory", "must be >= 0 GB");
  return cli::RunPipeline(o, [](const std::vector<std::string>& args) {
    std::vector<char*> av;
    for (const std::string& s : args) av.push_back(const_cast<char*>(s.c_str()));
    av.push_back(nullptr);
    return Dispatch(int(args.size()), av.data());
  });
}

int Dispatch(int argc, char** argv) {
  const std::string cmd = argv[1];
  if (cmd == "synth") return CmdSynth(argc, argv);
  if (cmd == "run") return CmdRun(argc, argv);
  if (cmd == "import") return CmdImport(argc, argv);
  if (cmd == "info") return CmdInfo(argc, argv);
  if (cmd == "report") return CmdReport(argc, argv);
  if (cmd == "merge") return CmdMerge(argc, argv);
  if (cmd == "export") return CmdExport(argc, argv);
  if (cmd == "quicklook") return CmdQuickLook(argc, argv);
  if (cmd == "segment") return CmdSegment(argc, argv);
  if (cmd == "conductivity") return CmdConductivity(argc, argv);
  if (cmd == "demo") return CmdDemo(argc, argv);
  if (cmd == "network") return CmdNetwork(argc, argv);
  if (cmd == "tortuosity") return CmdTortuosity(argc, argv);
  if (cmd == "geometry") return CmdGeometry(argc, argv);
  if (cmd == "large-frame") return CmdLargeFrame(argc, argv);
  if (cmd == "register") return CmdRegister(argc, argv);
  if (cmd == "throats") return CmdThroats(argc, argv);
  if (cmd == "soc") return CmdSoc(argc, argv);
  if (cmd == "degradation") return CmdDegradation(argc, argv);
  if (cmd == "score") return CmdScore(argc, argv);
  if (cmd == "advise") return CmdAdvise(argc, argv);
  if (cmd == "version" || cmd == "--version") return std::printf("op4d %s\n", Version()), 0;
  std::fprintf(stderr, "op4d: error: unknown command '%s' (see op4d --help)\n", cmd.c_str());
  return 2;
}


int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    std::printf("%s", kUsage);
    return argc < 2 ? 2 : 0;
  }
  // A store an acquisition is appending to can be read meanwhile: a reader that comes while the
  // writer changes the file's structure waits for it instead of failing.
  SetReaderWait(30);
  try {
    return Dispatch(argc, argv);
  } catch (const ConfigError& e) {
    std::fprintf(stderr, "op4d: error: %s\n", e.what());
    return 2;
  } catch (const Error& e) {
    std::fprintf(stderr, "op4d: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "op4d: internal error: %s\n", e.what());
    return 3;
  }
}

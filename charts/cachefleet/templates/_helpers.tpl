{{/*
Name of the application: the app.kubernetes.io/name label.
*/}}
{{- define "cachefleet.name" -}}
{{- default "cachefleet-operator" .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name prefixing every object. A release called "cachefleet" (or already containing the
application name) gives "cachefleet-operator" rather than "cachefleet-cachefleet-operator".
*/}}
{{- define "cachefleet.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := include "cachefleet.name" . }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else if eq .Release.Name "cachefleet" }}
{{- $name }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Chart name and version, for the helm.sh/chart label.
*/}}
{{- define "cachefleet.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels that select the operator pods. Selectors are immutable, so these never change.
*/}}
{{- define "cachefleet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cachefleet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
Labels of every object of the chart.
*/}}
{{- define "cachefleet.labels" -}}
helm.sh/chart: {{ include "cachefleet.chart" . }}
{{ include "cachefleet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: cachefleet
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
The operator's ServiceAccount.
*/}}
{{- define "cachefleet.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "cachefleet.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Images: the tag defaults to the chart's appVersion so operator and nodes match.
*/}}
{{- define "cachefleet.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "cachefleet.cacheNodeImage" -}}
{{- printf "%s:%s" .Values.cacheNodeImage.repository (default .Chart.AppVersion .Values.cacheNodeImage.tag) }}
{{- end }}

{{/*
Access the operator needs to the namespaced resources it reconciles; granted cluster-wide
by a ClusterRole, or in watchNamespace only by a Role.
*/}}
{{- define "cachefleet.rules" -}}
- apiGroups: ["cachefleet.dev"]
  resources: ["cacheclusters", "cachesnapshots", "cacheusers"]
  verbs: ["get", "list", "watch"]
- apiGroups: ["cachefleet.dev"]
  resources: ["cacheclusters/status", "cachesnapshots/status", "cacheusers/status"]
  verbs: ["get", "patch", "update"]
# Finalizers (deletionPolicy Snapshot) and the restore-from annotation on clusters;
# CacheSnapshots of scheduled runs, retention and final snapshots.
- apiGroups: ["cachefleet.dev"]
  resources: ["cacheclusters"]
  verbs: ["patch"]
- apiGroups: ["cachefleet.dev"]
  resources: ["cachesnapshots"]
  verbs: ["create", "patch", "delete"]
- apiGroups: ["cachefleet.dev"]
  resources: ["cacheclusters/finalizers", "cachesnapshots/finalizers"]
  verbs: ["update"]
# Snapshot CronJobs, their Jobs, manual snapshot and delete Jobs.
- apiGroups: ["batch"]
  resources: ["cronjobs", "jobs"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["apps"]
  resources: ["statefulsets"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["services", "configmaps", "persistentvolumeclaims"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["policy"]
  resources: ["poddisruptionbudgets"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["networking.k8s.io"]
  resources: ["networkpolicies"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: ["monitoring.coreos.com"]
  resources: ["servicemonitors"]
  verbs: ["get", "list", "watch", "create", "update", "patch", "delete"]
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["get", "list", "watch", "patch"]
- apiGroups: [""]
  resources: ["pods/eviction"]
  verbs: ["create"]
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "patch"]
- apiGroups: ["events.k8s.io"]
  resources: ["events"]
  verbs: ["create", "patch"]
{{- end }}

package manifest

import (
	"context"
	"fmt"
	"sync"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	structurallisttype "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/listtype"
	schemaobjectmeta "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/objectmeta"
	structuralpruning "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/operation"
	metavalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	celconfig "k8s.io/apiserver/pkg/apis/cel"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/features"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage/names"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"sigs.k8s.io/yaml"

	iapv1alpha1 "github.com/runguard/runguard/api/v1alpha1"
	"github.com/runguard/runguard/config/crd"
)

// The steps below are those of the API server's create path for a custom resource, in its order,
// calling the same apiextensions and apiserver functions: the request decoder
// (customresource_handler.go: schemaCoercingDecoder, unstructuredDefaulter), the create handler
// (endpoints/handlers/create.go), the generic store (registry/generic/registry/store.go) and
// rest.BeforeCreate with the custom resource strategy (registry/customresource/strategy.go and
// validator.go). The registry/customresource package itself is not imported: it would link
// the etcd client into every program that reads a manifest.

// protectedServiceGVK is the kind the embedded CRD serves; Read judges only this version.
var protectedServiceGVK = iapv1alpha1.GroupVersion.WithKind("ProtectedService")

// defaultNamespace stands in for the request namespace of a manifest that names none, as kubectl
// sends it to the namespace of its context.
const defaultNamespace = metav1.NamespaceDefault

// apiServer judges ProtectedServices as the API server does with the embedded CRD installed.
type apiServer struct {
	namespaced      bool
	statusResource  bool
	structural      *structuralschema.Structural
	schemaValidator apiservervalidation.SchemaValidator
	celValidator    *cel.Validator
}

// loadAPIServer builds the validator once, on first use rather than at program start: compiling
// the CEL rules takes a moment that programs importing this package for other commands should
// not pay, and a CRD that cannot be loaded (a broken build) is then reported by Read as an error
// instead of crashing those programs at start. The tests load it, so a broken CRD fails them.
var loadAPIServer = sync.OnceValues(func() (*apiServer, error) {
	s, err := newAPIServer(crd.ProtectedServices)
	if err != nil {
		return nil, fmt.Errorf("load the embedded ProtectedService CRD (config/crd/bases): %w", err)
	}
	return s, nil
})

func newAPIServer(crdYAML []byte) (*apiServer, error) {
	var def apiextensionsv1.CustomResourceDefinition
	if err := yaml.UnmarshalStrict(crdYAML, &def); err != nil {
		return nil, err
	}
	if def.Spec.Group != protectedServiceGVK.Group || def.Spec.Names.Kind != protectedServiceGVK.Kind {
		return nil, fmt.Errorf("it defines %s.%s, want %s", def.Spec.Names.Kind, def.Spec.Group, protectedServiceGVK.GroupKind())
	}
	var version *apiextensionsv1.CustomResourceDefinitionVersion
	for i := range def.Spec.Versions {
		if def.Spec.Versions[i].Name == protectedServiceGVK.Version {
			version = &def.Spec.Versions[i]
		}
	}
	if version == nil || !version.Served || version.Schema == nil || version.Schema.OpenAPIV3Schema == nil {
		return nil, fmt.Errorf("it does not serve version %s with a schema", protectedServiceGVK.Version)
	}

	internal := &apiextensions.CustomResourceValidation{}
	if err := apiextensionsv1.Convert_v1_CustomResourceValidation_To_apiextensions_CustomResourceValidation(version.Schema, internal, nil); err != nil {
		return nil, fmt.Errorf("convert the schema to the internal version: %w", err)
	}
	structural, err := structuralschema.NewStructural(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("the schema is not structural: %w", err)
	}
	// As the API server does: the structural schema shares defaults with the input, and
	// PruneDefaults edits them.
	structural = structural.DeepCopy()
	if err := structuraldefaulting.PruneDefaults(structural); err != nil {
		return nil, fmt.Errorf("prune defaults: %w", err)
	}
	schemaValidator, _, err := apiservervalidation.NewSchemaValidator(internal.OpenAPIV3Schema)
	if err != nil {
		return nil, fmt.Errorf("build the OpenAPI schema validator: %w", err)
	}
	return &apiServer{
		namespaced:      def.Spec.Scope == apiextensionsv1.NamespaceScoped,
		statusResource:  version.Subresources != nil && version.Subresources.Status != nil,
		structural:      structural,
		schemaValidator: schemaValidator,
		celValidator:    cel.NewValidator(structural, true, celconfig.PerCallLimit),
	}, nil
}

// create judges u, a decoded ProtectedService, as the API server judges a create with strict
// field validation, and returns the object as the API server would store it: defaulted, without
// status, and with the manifest's metadata (no uid, generated name or request namespace).
// Errors are the API server's *apierrors.StatusError.
func (s *apiServer) create(ctx context.Context, u *unstructured.Unstructured) (*unstructured.Unstructured, error) {
	if err := s.decode(u); err != nil {
		return nil, transformDecodeError(u, err)
	}
	if s.statusResource {
		// The status subresource makes create drop status (PrepareForCreate); the result says so too.
		delete(u.Object, "status")
	}

	obj := u.DeepCopy()
	rest.WipeObjectMetaSystemFields(obj)
	namespace := obj.GetNamespace()
	if namespace == "" && s.namespaced {
		namespace = defaultNamespace
	}
	if err := rest.EnsureObjectNamespaceMatchesRequestNamespace(rest.ExpectedNamespaceForScope(namespace, s.namespaced), obj); err != nil {
		return nil, err
	}
	rest.FillObjectMetaSystemFields(obj)
	if obj.GetGenerateName() != "" && obj.GetName() == "" {
		// Random like the API server's, so a message about the name shows a name the server
		// could have picked, not the one it will pick.
		obj.SetName(names.SimpleNameGenerator.GenerateName(obj.GetGenerateName()))
	}
	if err := rest.BeforeCreate(createStrategy{s}, genericapirequest.WithNamespace(ctx, namespace), obj); err != nil {
		return nil, err
	}
	return u, nil
}

// decode does to u what the API server's strict request decoder does after parsing the JSON:
// reads metadata, prunes fields the schema does not know (reporting them, as
// fieldValidation=Strict refuses them), and applies the schema's defaults.
func (s *apiServer) decode(u *unstructured.Unstructured) error {
	// unstructuredSchemaCoercer.apply, with returnUnknownFieldPaths for strict field validation.
	kind, foundKind, err := unstructured.NestedString(u.Object, "kind")
	if err != nil {
		return err
	}
	apiVersion, foundAPIVersion, err := unstructured.NestedString(u.Object, "apiVersion")
	if err != nil {
		return err
	}
	objectMeta, foundObjectMeta, unknownFields, err := schemaobjectmeta.GetObjectMetaWithOptions(u.Object, schemaobjectmeta.ObjectMetaOptions{ReturnUnknownFieldPaths: true})
	if err != nil {
		return err
	}
	unknownFields = append(unknownFields, structuralpruning.PruneWithOptions(u.Object, s.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})...)
	structuraldefaulting.PruneNonNullableNullsWithoutDefaults(u.Object, s.structural)
	coerceErr, paths := schemaobjectmeta.CoerceWithOptions(nil, u.Object, s.structural, false, schemaobjectmeta.CoerceOptions{ReturnUnknownFieldPaths: true})
	if coerceErr != nil {
		return coerceErr
	}
	unknownFields = append(unknownFields, paths...)
	if foundKind {
		u.SetKind(kind)
	}
	if foundAPIVersion {
		u.SetAPIVersion(apiVersion)
	}
	if foundObjectMeta {
		if err := schemaobjectmeta.SetObjectMeta(u.Object, objectMeta); err != nil {
			return err
		}
	}

	// schemaCoercingDecoder: unknown fields are strict decoding errors.
	if len(unknownFields) > 0 {
		errs := make([]error, 0, len(unknownFields))
		for _, f := range unknownFields {
			errs = append(errs, fmt.Errorf(`unknown field "%s"`, f))
		}
		return runtime.NewStrictDecodingError(errs)
	}

	// unstructuredDefaulter, run by the versioning codec after decoding.
	structuraldefaulting.Default(u.Object, s.structural)
	return nil
}

// transformDecodeError words a decoding error as the create handler does (handlers/rest.go).
func transformDecodeError(u *unstructured.Unstructured, err error) error {
	gvk := u.GroupVersionKind()
	return apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", gvk.Kind, gvk.Version, protectedServiceGVK.Kind, err))
}

// createStrategy is the custom resource strategy's create half (customResourceStrategy and
// customResourceValidator), for rest.BeforeCreate.
type createStrategy struct{ *apiServer }

var _ rest.RESTCreateStrategy = createStrategy{}

func (createStrategy) ObjectKinds(runtime.Object) ([]schema.GroupVersionKind, bool, error) {
	return []schema.GroupVersionKind{protectedServiceGVK}, false, nil
}

func (createStrategy) Recognizes(gvk schema.GroupVersionKind) bool { return gvk == protectedServiceGVK }

func (createStrategy) GenerateName(base string) string {
	return names.SimpleNameGenerator.GenerateName(base)
}

func (s createStrategy) NamespaceScoped() bool { return s.namespaced }

func (s createStrategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	u := obj.(*unstructured.Unstructured)
	if s.statusResource {
		delete(u.Object, "status")
	}
	u.SetGeneration(1)
}

func (createStrategy) WarningsOnCreate(context.Context, runtime.Object) []string { return nil }

func (createStrategy) Canonicalize(runtime.Object) {}

// Validate is customResourceStrategy.Validate for a resource without a scale subresource, with
// the errors of each pass in a fixed order (inFieldOrder).
func (s createStrategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	u, ok := obj.(*unstructured.Unstructured)
	if !ok {
		return field.ErrorList{field.Invalid(field.NewPath(""), u, fmt.Sprintf("has type %T. Must be a pointer to an Unstructured type", obj))}
	}

	var errs field.ErrorList
	errs = append(errs, s.validateResource(ctx, u)...)
	errs = append(errs, schemaobjectmeta.Validate(ctx, nil, u.Object, s.structural, false)...)
	errs = append(errs, inFieldOrder(structurallisttype.ValidateListSetsAndMaps(nil, s.structural, u.Object), false)...)
	if s.celValidator != nil {
		if blocked, err := hasBlockingErr(errs); blocked {
			errs = append(errs, err)
		} else {
			celErrs, _ := s.celValidator.Validate(ctx, nil, s.structural, u.Object, nil, celconfig.RuntimeCELCostBudget)
			errs = append(errs, inFieldOrder(celErrs, false)...)
		}
	}
	return errs
}

// validateResource is customResourceValidator.Validate: type meta, object meta, OpenAPI schema.
func (s createStrategy) validateResource(ctx context.Context, u *unstructured.Unstructured) field.ErrorList {
	var errs field.ErrorList
	if u.GetKind() != protectedServiceGVK.Kind {
		errs = append(errs, field.Invalid(field.NewPath("kind"), u.GetKind(), fmt.Sprintf("must be %v", protectedServiceGVK.Kind)))
	}
	if want := protectedServiceGVK.GroupVersion().String(); u.GetAPIVersion() != want {
		errs = append(errs, field.Invalid(field.NewPath("apiVersion"), u.GetAPIVersion(), fmt.Sprintf("must be %v", want)))
	}
	if len(errs) > 0 {
		return errs
	}

	if metadata, metaErrs := objectMeta(u); len(metaErrs) > 0 {
		errs = append(errs, metaErrs...)
	} else {
		errs = append(errs, metavalidation.ValidateObjectMetaDeclaratively(ctx, operation.Create, metadata, nil, s.namespaced,
			metavalidation.NameIsDNSSubdomain, field.NewPath("metadata"), utilfeature.DefaultFeatureGate.Enabled(features.DeclarativeValidationBeta))...)
	}
	return append(errs, inFieldOrder(apiservervalidation.ValidateCustomResource(nil, u.UnstructuredContent(), s.schemaValidator), true)...)
}

func objectMeta(u *unstructured.Unstructured) (*metav1.ObjectMeta, field.ErrorList) {
	raw := u.Object["metadata"]
	if raw == nil {
		return &metav1.ObjectMeta{}, nil
	}
	m, ok := raw.(map[string]any)
	if !ok {
		return nil, field.ErrorList{field.Invalid(field.NewPath("metadata"), raw, fmt.Sprintf("expected map[string]interface{}, got %T", raw))}
	}
	meta := &metav1.ObjectMeta{}
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, meta); err != nil {
		return nil, field.ErrorList{field.Invalid(field.NewPath("metadata"), raw, err.Error())}
	}
	return meta, nil
}

// hasBlockingErr is the strategy's: schema errors that make the CEL rules skip, with the
// API server's note that they did.
func hasBlockingErr(errs field.ErrorList) (bool, *field.Error) {
	for _, err := range errs {
		switch err.Type {
		case field.ErrorTypeNotSupported, field.ErrorTypeRequired, field.ErrorTypeTooLong, field.ErrorTypeTooMany, field.ErrorTypeTypeInvalid:
			return true, field.Invalid(nil, nil, "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation")
		}
	}
	return false, nil
}
